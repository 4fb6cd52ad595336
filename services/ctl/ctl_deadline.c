/* liaisonctl deadline — the deadline daemon's views (GET /v1/deadlines).
 *
 *   liaisonctl deadline list [--court C] [--overdue] [--department D] [--item ID]
 *                            [--limit N] [--json]
 *   liaisonctl deadline explain ID [--json]
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"
#include "ctl/ctl_table.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: liaisonctl deadline list [--court C] [--overdue] [--department D] [--item ID]\n"
            "                                [--limit N] [--json]\n"
            "       liaisonctl deadline explain ID [--json]\n"
            "\n"
            "list: deadlines by due instant; --overdue only those past due (due, urged,\n"
            "escalated, or pending past the last day). explain: the due date's reasoning\n"
            "(rule, article, calendar, rest days skipped), the stage schedule and history.\n");
}

/* Court-local time of an instant in µs (every mainland court: UTC+8). */
static void s_local(long long us, char *buf, size_t size)
{
    if (us <= 0) {
        snprintf(buf, size, "-");
        return;
    }
    time_t t = (time_t)(us / 1000000) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
}

static const char *s_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void s_show_list(json_t *arr)
{
    static const int w[] = {36, 10, 16, 20, 4, 12, 10, 11, 18, 0};
    const char *head[] = {"ID",         "ITEM", "RULE",  "REG. NO.", "RND",
                          "DEPARTMENT", "DUE",  "STAGE", "NEXT",     "OVERDUE"};
    ctl_row(stdout, w, 10, head);
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        char round[16], stage[32], next[64], at[32];
        snprintf(round, sizeof round, "%lld", json_integer_value(json_object_get(d, "round")));
        long long urges = json_integer_value(json_object_get(d, "urge_count"));
        if (strcmp(s_str(d, "stage"), "urged") == 0)
            snprintf(stage, sizeof stage, "urged %lld", urges);
        else
            snprintf(stage, sizeof stage, "%s", s_str(d, "stage"));
        s_local(json_integer_value(json_object_get(d, "next_fire_at")), at, sizeof at);
        if (json_is_null(json_object_get(d, "next_fire_at")))
            snprintf(next, sizeof next, "-");
        else
            snprintf(next, sizeof next, "%s %s", s_str(d, "next_stage"), at);
        const char *cells[] = {s_str(d, "id"),
                               s_str(d, "item_id"),
                               s_str(d, "rule_id"),
                               s_str(d, "registration_number"),
                               round,
                               *s_str(d, "department_id") ? s_str(d, "department_id") : "联络办",
                               s_str(d, "due_date"),
                               stage,
                               next,
                               json_is_true(json_object_get(d, "overdue")) ? "yes" : ""};
        ctl_row(stdout, w, 10, cells);
    }
    if (json_array_size(arr) == 0)
        printf("(no deadline)\n");
}

static void s_show_one(json_t *d)
{
    char at[32];
    printf("deadline   %s\n", s_str(d, "id"));
    printf("item       %s %s (round %lld)\n", s_str(d, "item_id"), s_str(d, "registration_number"),
           json_integer_value(json_object_get(d, "round")));
    printf("rule       %s\n", s_str(d, "rule_id"));
    printf("department %s\n", *s_str(d, "department_id") ? s_str(d, "department_id") : "联络办");
    printf("due        %s, 24:00 %s%s\n", s_str(d, "due_date"), s_str(d, "time_zone"),
           json_is_true(json_object_get(d, "provisional")) ? " (provisional: a year without its "
                                                             "holiday notice)"
                                                           : "");
    printf("stage      %s", s_str(d, "stage"));
    if (strcmp(s_str(d, "stage"), "met") == 0)
        printf(" on %s%s", s_str(d, "met_date"),
               json_is_true(json_object_get(d, "met_late")) ? " (late)" : "");
    if (*s_str(d, "supervising_leader_id"))
        printf(", escalated to %s", s_str(d, "supervising_leader_id"));
    printf("\n\nwhy this date:\n%s\n", s_str(d, "explanation"));
    printf("schedule:\n");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(d, "schedule"), i, s)
    {
        s_local(json_integer_value(json_object_get(s, "at_us")), at, sizeof at);
        printf("  %-10s %s%s\n", s_str(s, "stage"), at,
               json_is_true(json_object_get(s, "fired")) ? "  done" : "");
    }
    printf("history:\n");
    json_array_foreach(json_object_get(d, "history"), i, s)
    {
        s_local(json_integer_value(json_object_get(s, "fired_at_us")), at, sizeof at);
        printf("  %s  %-10s %-9s %s\n", at, s_str(s, "kind"), s_str(s, "by"), s_str(s, "detail"));
    }
}

int ctl_deadline(int argc, char **argv)
{
    static const struct option opts[] = {{"court", required_argument, NULL, 'c'},
                                         {"overdue", no_argument, NULL, 'o'},
                                         {"department", required_argument, NULL, 'd'},
                                         {"item", required_argument, NULL, 'i'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        s_usage(stdout);
        return CTL_EXIT_OK;
    }
    bool list = strcmp(sub, "list") == 0;
    if (!list && strcmp(sub, "explain") != 0) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *q[5][2] = {
        {"court", NULL}, {"department", NULL}, {"item", NULL}, {"limit", NULL}, {"overdue", NULL}};
    bool json = false;
    int o;
    argc--;
    argv++;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            q[0][1] = optarg;
            break;
        case 'd':
            q[1][1] = optarg;
            break;
        case 'i':
            q[2][1] = optarg;
            break;
        case 'n':
            q[3][1] = optarg;
            break;
        case 'o':
            q[4][1] = "true";
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_usage(stdout);
            return CTL_EXIT_OK;
        default:
            s_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (list ? optind != argc : optind != argc - 1) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    char path[2048];
    int n;
    if (list) {
        n = snprintf(path, sizeof path, "/v1/deadlines");
        char sep = '?';
        for (int i = 0; i < 5; i++)
            if (q[i][1]) {
                char *v = ctl_http_escape(q[i][1]);
                n += snprintf(path + n, sizeof path - (size_t)n, "%c%s=%s", sep, q[i][0],
                              v ? v : "");
                free(v);
                sep = '&';
            }
    } else {
        char *id = ctl_http_escape(argv[optind]);
        snprintf(path, sizeof path, "/v1/deadlines/%s", id ? id : "");
        free(id);
    }
    ctl_http_resp_t r;
    int rc = ctl_http("deadline", "GET", path, NULL, NULL, 0, NULL, &r);
    if (rc != CTL_EXIT_OK) {
        ctl_http_print_problem(list ? "deadline list" : "deadline explain", &r);
    } else if (json || !r.json) {
        fwrite(r.body, 1, r.len, stdout);
        if (r.len && r.body[r.len - 1] != '\n')
            putchar('\n');
    } else if (list) {
        s_show_list(r.json);
    } else {
        s_show_one(r.json);
    }
    ctl_http_resp_free(&r);
    return rc;
}
