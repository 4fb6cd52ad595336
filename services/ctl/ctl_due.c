/* liaisonctl due — compute a due date by the regulation's rules, offline.
 *
 *   liaisonctl due --from YYYY-MM-DD (--rule ID | --days N | --workdays N | --months N)
 *                  [--court C] [--explain] [--provisional]
 *                  [--calendar FILE] [--overrides FILE] [--zone ZONE]
 *
 * Prints the due date (YYYY-MM-DD) on the first line; --explain adds the
 * reasoning. Needs no daemon and no database: only the work calendar file,
 * found at --calendar, else $LIAISON_CALENDAR, else ./deploy/calendar/<file>,
 * else ../../deploy/calendar/<file> next to the executable (build/bin).
 *
 * A date that needs a year without a holiday notice is refused (exit 3) unless
 * --provisional is given: then the first line reads "YYYY-MM-DD provisional".
 *
 * --court C applies court C's own calendar days ([court C] sections of the
 * calendar file) and its rule overrides from --overrides FILE or
 * $LIAISON_RULE_OVERRIDES, an INI file of sections [court C] with lines
 * "rule.key = value" (keys as domain_rules_set documents them), e.g.
 *     [court lw]
 *     transfer.unit = workdays
 * They are the same overrides a court's directory record holds
 * (rule_overrides), applied by the same domain_rules_apply: in a fixed order
 * of settings, so a unit always comes before its amount.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "domain/calendar.h"
#include "domain/explain.h"
#include "domain/period.h"
#include "domain/rules.h"

#define S_CALENDAR_FILE "work-calendar.txt"
#define S_MAX_FILE      (1024 * 1024)

static void s_usage(FILE *out)
{
    fprintf(out, "usage: liaisonctl due --from YYYY-MM-DD (--rule ID | --days N | --workdays N | "
                 "--months N)\n"
                 "                      [--court C] [--explain] [--provisional]\n"
                 "                      [--calendar FILE] [--overrides FILE] [--zone ZONE]\n"
                 "\n"
                 "Prints the due date on the first line; --explain adds why.\n"
                 "Rules:");
    for (int i = 0; i < DOMAIN_RULE_COUNT; i++)
        fprintf(out, " %s", domain_rule_name((domain_rule_id_t)i));
    fprintf(out, "\nExit: 0 ok, 1 environment (calendar file), 2 usage, 3 refused (unknown year, "
                 "no due date).\n");
}

/* Reads a whole (small) file; NULL with errno on failure. */
static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(S_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, S_MAX_FILE + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err || n > S_MAX_FILE) {
        free(buf);
        errno = err ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Finds the calendar file; returns a malloc'd path or NULL. */
static char *s_find_calendar(const char *given)
{
    if (given)
        return strdup(given);
    const char *env = getenv("LIAISON_CALENDAR");
    if (env && *env)
        return strdup(env);
    const char *local = "deploy/calendar/" S_CALENDAR_FILE;
    if (access(local, R_OK) == 0)
        return strdup(local);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *path = NULL;
            if (asprintf(&path, "%s/../../deploy/calendar/%s", exe, S_CALENDAR_FILE) >= 0) {
                if (access(path, R_OK) == 0)
                    return path;
                free(path);
            }
        }
    }
    return NULL;
}

static int s_number(const char *opt, const char *v, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > 100000) {
        fprintf(stderr, "liaisonctl due: %s needs a positive whole number, not \"%s\"\n", opt, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Applies the [court C] "rule.key = value" lines of an overrides file, all
 * at once through domain_rules_apply: the same function that checks a
 * court's rule_overrides at intake and applies them in the deadline service,
 * so a file and a directory record with the same lines give the same rules. */
static int s_apply_overrides(const char *path, const char *court, domain_rules_t *rules)
{
    size_t len;
    char *text = s_slurp(path, &len);
    if (!text) {
        fprintf(stderr, "liaisonctl due: cannot read overrides file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    domain_rule_override_t o[DOMAIN_RULES_MAX_OVERRIDES];
    int lines[DOMAIN_RULES_MAX_OVERRIDES];
    size_t n = 0;
    int rc = 0, line = 0;
    bool in_court = false;
    char *save = NULL;
    for (char *l = text; l && *l; l = save) {
        char *nl = strchr(l, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        line++;
        char *s = s_trim(l);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1]) {
                fprintf(stderr, "liaisonctl due: %s:%d: bad section header\n", path, line);
                rc = -1;
                break;
            }
            *close = '\0';
            char *name = s_trim(s + 1);
            in_court = strncmp(name, "court", 5) == 0 && (name[5] == ' ' || name[5] == '\t') &&
                       strcmp(s_trim(name + 6), court) == 0;
            continue;
        }
        if (!in_court)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "liaisonctl due: %s:%d: expected \"rule.key = value\"\n", path, line);
            rc = -1;
            break;
        }
        if (n == DOMAIN_RULES_MAX_OVERRIDES) {
            fprintf(stderr, "liaisonctl due: %s:%d: more than %d overrides for court %s\n", path,
                    line, DOMAIN_RULES_MAX_OVERRIDES, court);
            rc = -1;
            break;
        }
        *eq = '\0';
        o[n] = (domain_rule_override_t){s_trim(s), s_trim(eq + 1)};
        lines[n++] = line;
    }
    char err[200];
    size_t bad = 0;
    if (rc == 0 && domain_rules_apply(rules, o, n, &bad, err, sizeof err) < 0) {
        fprintf(stderr, "liaisonctl due: %s:%d: %s\n", path, n ? lines[bad] : 0, err);
        rc = -1;
    }
    free(text);
    return rc;
}

int ctl_due(int argc, char **argv)
{
    static const struct option s_opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"rule", required_argument, NULL, 'r'},
        {"days", required_argument, NULL, 'd'},
        {"workdays", required_argument, NULL, 'w'},
        {"months", required_argument, NULL, 'm'},
        {"court", required_argument, NULL, 'c'},
        {"explain", no_argument, NULL, 'e'},
        {"provisional", no_argument, NULL, 'p'},
        {"calendar", required_argument, NULL, 'C'},
        {"overrides", required_argument, NULL, 'O'},
        {"zone", required_argument, NULL, 'z'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *rule = NULL, *court = NULL, *calendar_path = NULL, *overrides = NULL;
    const char *zone_name = "Asia/Shanghai";
    bool explain = false, provisional = false;
    int nperiods = 0;
    domain_period_t period = {DOMAIN_UNIT_DAYS, 0, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", s_opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            from = optarg;
            break;
        case 'r':
            rule = optarg;
            nperiods++;
            break;
        case 'd':
        case 'w':
        case 'm':
            period.unit = c == 'd'   ? DOMAIN_UNIT_DAYS
                          : c == 'w' ? DOMAIN_UNIT_WORKDAYS
                                     : DOMAIN_UNIT_MONTHS;
            if (s_number(c == 'd'   ? "--days"
                         : c == 'w' ? "--workdays"
                                    : "--months",
                         optarg, &period.amount) < 0)
                return CTL_EXIT_USAGE;
            nperiods++;
            break;
        case 'c':
            court = optarg;
            break;
        case 'e':
            explain = true;
            break;
        case 'p':
            provisional = true;
            break;
        case 'C':
            calendar_path = optarg;
            break;
        case 'O':
            overrides = optarg;
            break;
        case 'z':
            zone_name = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return CTL_EXIT_OK;
        default:
            fprintf(stderr, "liaisonctl due: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1]);
            s_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "liaisonctl due: unexpected argument \"%s\"\n", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    domain_date_t trigger;
    if (!from || domain_date_parse(from, &trigger) < 0) {
        fprintf(stderr, "liaisonctl due: --from needs a real date YYYY-MM-DD%s%s%s\n",
                from ? " (got \"" : "", from ? from : "", from ? "\")" : "");
        return CTL_EXIT_USAGE;
    }
    if (nperiods != 1) {
        fprintf(stderr,
                "liaisonctl due: give exactly one of --rule, --days, --workdays, --months\n");
        return CTL_EXIT_USAGE;
    }
    domain_rule_id_t rule_id = DOMAIN_RULE_COUNT;
    if (rule && domain_rule_parse(rule, &rule_id) < 0) {
        fprintf(stderr, "liaisonctl due: unknown rule \"%s\"\n", rule);
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    char perr[200];
    if (!rule && domain_period_validate(&period, perr, sizeof perr) < 0) {
        fprintf(stderr, "liaisonctl due: %s\n", perr);
        return CTL_EXIT_USAGE;
    }
    domain_zone_t zone;
    if (domain_zone_find(zone_name, &zone) < 0) {
        fprintf(stderr,
                "liaisonctl due: unknown time zone \"%s\" (known: Asia/Shanghai and its aliases, "
                "UTC)\n",
                zone_name);
        return CTL_EXIT_USAGE;
    }

    domain_rules_t rules = {0};
    domain_rules_defaults(&rules);
    if (court) {
        if (!overrides) {
            const char *env = getenv("LIAISON_RULE_OVERRIDES");
            overrides = env && *env ? env : NULL;
        }
        if (overrides && s_apply_overrides(overrides, court, &rules) < 0)
            return CTL_EXIT_FAILURE;
    }

    char *path = s_find_calendar(calendar_path);
    if (!path) {
        fprintf(
            stderr,
            "liaisonctl due: no work calendar found: set LIAISON_CALENDAR or run from the project "
            "directory (deploy/calendar/%s)\n",
            S_CALENDAR_FILE);
        return CTL_EXIT_FAILURE;
    }
    size_t len;
    char *text = s_slurp(path, &len);
    if (!text) {
        fprintf(stderr, "liaisonctl due: cannot read the work calendar %s: %s\n", path,
                strerror(errno));
        free(path);
        return CTL_EXIT_FAILURE;
    }
    char err[256];
    domain_calendar_t *cal = domain_calendar_parse(text, len, err, sizeof err);
    free(text);
    if (!cal) {
        fprintf(stderr, "liaisonctl due: %s: %s\n", path, err);
        free(path);
        return CTL_EXIT_FAILURE;
    }
    free(path);

    domain_explain_t *ex = calloc(1, sizeof *ex);
    if (!ex) {
        domain_calendar_destroy(&cal);
        return CTL_EXIT_FAILURE;
    }
    int64_t start;
    int rc = CTL_EXIT_OK;
    unsigned flags = provisional ? DOMAIN_DUE_PROVISIONAL : 0;
    /* Compute from the trigger day's first instant so the explanation can
     * state when the last day ends in the court's zone. */
    if (domain_zone_start_of_day(&zone, trigger, &start) < 0) {
        fprintf(stderr, "liaisonctl due: %s has no known offset in zone %s on that date\n", from,
                zone.name);
        rc = CTL_EXIT_USAGE;
        goto done;
    }
    int r = rule ? domain_rules_due_at(&rules, rule_id, cal, court, &zone, start, flags, ex)
                 : domain_period_due_at(cal, court, &zone, &period, start, flags, ex);
    if (r < 0) {
        fprintf(stderr, "liaisonctl due: refused (%s): %s\n", domain_due_status_name(ex->status),
                ex->error);
        if (ex->status == DOMAIN_DUE_UNKNOWN_YEAR)
            fprintf(stderr,
                    "hint: --provisional gives a date marked provisional, counting that year as an "
                    "ordinary week\n");
        rc = ex->status == DOMAIN_DUE_INVALID ? CTL_EXIT_USAGE : CTL_EXIT_REFUSED;
        goto done;
    }
    char buf[DOMAIN_DATE_STRLEN];
    printf("%s%s\n", domain_date_format(ex->due, buf), ex->provisional ? " provisional" : "");
    if (explain) {
        char *why = domain_explain_text(ex);
        if (!why) {
            rc = CTL_EXIT_FAILURE;
            goto done;
        }
        fputs(why, stdout);
        free(why);
    }
    if (fflush(stdout) != 0)
        rc = CTL_EXIT_FAILURE;
done:
    free(ex);
    domain_calendar_destroy(&cal);
    return rc;
}
