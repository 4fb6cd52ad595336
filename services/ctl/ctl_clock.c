/* liaisonctl clock — the test clock of a local stack (ARCHITECTURE.md §5).
 *
 *   liaisonctl clock show
 *   liaisonctl clock advance DURATION      (30d, 2h, 1h30m, as in the config)
 *   liaisonctl clock set TIME              (YYYY-MM-DD[THH:MM[:SS]] court-local,
 *                                           a trailing Z for UTC, or @EPOCH)
 *   liaisonctl clock reset                 (back to real time)
 *
 * Every daemon of a stack started with TEST_CLOCK=1 reads the same offset
 * file ([liaisonctl] clock_file, written by scripts/write-config) on each
 * read of its clock, so one command moves the whole system. The file exists
 * only while the stack runs on the test clock: without it the command is
 * refused (exit 3), so nothing can shift a production clock.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "ctl/ctl.h"
#include "ctl/ctl_ini.h"

/* Court-local time for display and input: every mainland court keeps
 * Asia/Shanghai, UTC+8 without daylight saving. */
#define LOCAL_OFFSET_S (8 * 3600)

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: liaisonctl clock show\n"
            "       liaisonctl clock advance DURATION   (e.g. 30d, 2h, 1h30m)\n"
            "       liaisonctl clock set TIME           (YYYY-MM-DD[THH:MM[:SS]] court-local,\n"
            "                                            ...Z for UTC, or @EPOCH)\n"
            "       liaisonctl clock reset\n"
            "Refused unless the stack runs on the test clock (make up TEST_CLOCK=1).\n");
}

static int64_t s_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "2025-09-03", "2025-09-03T09:00", "2025-09-03 09:00:30", "...Z", "@1756861200". */
static int s_parse_time(const char *text, int64_t *epoch_s)
{
    if (text[0] == '@') {
        char *end;
        long long v = strtoll(text + 1, &end, 10);
        if (*end || end == text + 1)
            return -1;
        *epoch_s = v;
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return -1;
    const char *p = text + n;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
            return -1;
        p += 1 + m;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &s, &m) != 1)
                return -1;
            p += 1 + m;
        }
    }
    bool utc = false;
    if (*p == 'Z') {
        utc = true;
        p++;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *epoch_s = (int64_t)timegm(&tm) - (utc ? 0 : LOCAL_OFFSET_S);
    return 0;
}

static void s_format(int64_t us, char *buf, size_t size)
{
    time_t t = (time_t)(us / 1000000) + LOCAL_OFFSET_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S +08:00", &tm);
}

int ctl_clock(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    const char *sub = argv[1];
    bool show = strcmp(sub, "show") == 0, advance = strcmp(sub, "advance") == 0,
         set = strcmp(sub, "set") == 0, reset = strcmp(sub, "reset") == 0;
    if (!(show || advance || set || reset) || argc != ((advance || set) ? 3 : 2)) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *conf = getenv("LIAISON_CONFIG");
    if (!conf || !*conf)
        conf = "var/liaisonctl.conf";
    char *path = NULL;
    struct stat st;
    if (ctl_ini_get(conf, "liaisonctl", "clock_file", &path) != 0 || stat(path, &st) != 0) {
        fprintf(stderr,
                "liaisonctl clock: refused: the stack does not run on the test clock (%s%s%s)\n"
                "hint: start it with `make up TEST_CLOCK=1`; production never runs on a moved "
                "clock\n",
                path ? "no file " : "no clock_file in ", path ? path : conf,
                path ? "" : " [liaisonctl]");
        free(path);
        return CTL_EXIT_REFUSED;
    }
    int64_t offset = 0;
    if (clock_file_read(path, &offset) != 0) {
        fprintf(stderr, "liaisonctl clock: cannot read %s: %s\n", path, strerror(errno));
        free(path);
        return CTL_EXIT_FAILURE;
    }
    int64_t next = offset;
    if (advance) {
        int64_t ms;
        if (config_parse_duration_ms(argv[2], &ms) != 0 || ms < 0) {
            fprintf(stderr, "liaisonctl clock: \"%s\" is not a duration (e.g. 30d, 2h, 1h30m)\n",
                    argv[2]);
            free(path);
            return CTL_EXIT_USAGE;
        }
        next = offset + ms * 1000;
    } else if (set) {
        int64_t epoch;
        if (s_parse_time(argv[2], &epoch) != 0) {
            fprintf(stderr, "liaisonctl clock: \"%s\" is not a time (YYYY-MM-DD[THH:MM[:SS]])\n",
                    argv[2]);
            free(path);
            return CTL_EXIT_USAGE;
        }
        next = epoch * 1000000 - s_real_us();
    } else if (reset) {
        next = 0;
    }
    if (next != offset && clock_file_write(path, next) != 0) {
        fprintf(stderr, "liaisonctl clock: cannot write %s: %s\n", path, strerror(errno));
        free(path);
        return CTL_EXIT_FAILURE;
    }
    char now[64];
    s_format(s_real_us() + next, now, sizeof now);
    printf("test clock: %s (offset %+.3f days, file %s)\n", now, (double)next / 86400e6, path);
    free(path);
    return CTL_EXIT_OK;
}
