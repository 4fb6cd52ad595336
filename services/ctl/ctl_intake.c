/* liaisonctl item | directory | token — the intake daemon's API.
 *
 *   liaisonctl item register --court C (--file ITEM.json | --kind K --channel CH --source S
 *                            --deputy D [--deputy D2 ...] [--lead D] --title T
 *                            (--content TEXT | --content-file F) [--received-at TIME]
 *                            [--late-reason R] [--court-role lead|co])
 *                            [--idempotency-key K] [--json]
 *   liaisonctl item show --court C ID [--json]
 *   liaisonctl item list --court C [--kind K] [--deputy D] [--late true|false]
 *                        [--from DATE] [--to DATE] [--limit N] [--cursor X] [--json]
 *   liaisonctl directory court --court C --name NAME [--short-name S] [--template T]
 *                              [--zone Z] [--json]
 *   liaisonctl directory import --court C KIND FILE.csv [--json]
 *   liaisonctl directory show --court C KIND [--search TEXT] [--json]
 *          (KIND: departments, staff, groups, deputies, or "court" for the court itself)
 *   liaisonctl directory end-term --court C DEPUTY --date YYYY-MM-DD [--reason R] [--json]
 *   liaisonctl token create --role ROLE [--court C] [--department D] [--staff S] [--name N]
 *                           [--json]
 *   liaisonctl token revoke SHA256 [--reason R]
 *
 * Tables for people, --json for scripts (the daemon's JSON, unchanged).
 * Exit codes: 0 done, 1 the server or the environment failed, 2 usage,
 * 3 refused by the server (the problem is printed on stderr).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"
#include "ctl/ctl_routing.h"
#include "ctl/ctl_table.h"

#define MAX_DEPUTIES 64

static const char *s_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- item ---------------------------------------------------------------------------------- */

static void s_show_registered(json_t *j)
{
    printf("registered %s  item %s\n", s_str(j, "registration_number"), s_str(j, "item_id"));
    printf("received   %s (%s)\n", s_str(j, "received_at"), s_str(j, "received_date"));
    printf("registered %s (%s)%s%s\n", s_str(j, "registered_at"), s_str(j, "registered_date"),
           json_is_true(json_object_get(j, "registered_late")) ? "  LATE: " : "",
           s_str(j, "late_reason"));
}

static void s_show_item(json_t *j)
{
    printf("%-14s %s\n", "number", s_str(j, "registration_number"));
    printf("%-14s %s\n", "item", s_str(j, "item_id"));
    printf("%-14s %s / %s / %s\n", "kind", s_str(j, "kind"), s_str(j, "channel"),
           s_str(j, "source"));
    printf("%-14s %s\n", "court role", s_str(j, "court_role"));
    printf("%-14s %s\n", "title", s_str(j, "title"));
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(j, "deputies"), i, d)
        printf("%-14s %s (%s)%s\n", i ? "" : "deputies", s_str(d, "name"), s_str(d, "code"),
               json_is_true(json_object_get(d, "lead")) ? " 领衔" : "");
    printf("%-14s %s\n", "received", s_str(j, "received_at"));
    printf("%-14s %s%s%s\n", "registered", s_str(j, "registered_at"),
           json_is_true(json_object_get(j, "registered_late")) ? "  late: " : "",
           s_str(j, "late_reason"));
    json_t *session = json_object_get(j, "session");
    if (json_is_object(session))
        printf("%-14s %s 第%lld次会议, closed %s\n", "session", s_str(session, "congress"),
               (long long)json_integer_value(json_object_get(session, "meeting_number")),
               s_str(session, "closing_date"));
    ctl_routing_show_workflow(j);
    if (json_object_get(j, "content"))
        printf("\n%s\n", s_str(j, "content"));
}

static void s_show_items(json_t *j)
{
    json_t *items = json_object_get(j, "items");
    static const int w[] = {24, 11, 20, 5, 0};
    ctl_row(stdout, w, 5, (const char *[]){"NUMBER", "RECEIVED", "KIND", "LATE", "TITLE"});
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        ctl_row(stdout, w, 5,
                (const char *[]){s_str(it, "registration_number"), s_str(it, "received_date"),
                                 s_str(it, "kind"),
                                 json_is_true(json_object_get(it, "registered_late")) ? "yes" : "",
                                 s_str(it, "title")});
    }
    const char *next = json_string_value(json_object_get(j, "next_cursor"));
    printf("(%zu item%s%s%s)\n", json_array_size(items), json_array_size(items) == 1 ? "" : "s",
           next ? "; more with --cursor " : "", next ? next : "");
}

static void s_item_usage(FILE *out)
{
    fprintf(
        out,
        "usage: liaisonctl item register --court C (--file ITEM.json | --kind K --channel CH\n"
        "                               --source S --deputy D [--deputy D2 ...] [--lead D]\n"
        "                               --title T (--content TEXT | --content-file F)\n"
        "                               [--received-at RFC3339] [--late-reason R]\n"
        "                               [--court-role lead|co]) [--idempotency-key K] [--json]\n"
        "       liaisonctl item show --court C ID [--json]\n"
        "       liaisonctl item list --court C [--kind K] [--deputy D] [--late true|false]\n"
        "                            [--from DATE] [--to DATE] [--limit N] [--cursor X] [--json]\n"
        "Exit: 0 ok, 1 failure, 2 usage, 3 refused.\n");
}

static int s_item_register(int argc, char **argv)
{
    static const struct option opts[] = {{"court", required_argument, NULL, 'c'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"kind", required_argument, NULL, 'k'},
                                         {"channel", required_argument, NULL, 'C'},
                                         {"source", required_argument, NULL, 's'},
                                         {"deputy", required_argument, NULL, 'd'},
                                         {"lead", required_argument, NULL, 'l'},
                                         {"title", required_argument, NULL, 't'},
                                         {"content", required_argument, NULL, 'b'},
                                         {"content-file", required_argument, NULL, 'B'},
                                         {"received-at", required_argument, NULL, 'r'},
                                         {"late-reason", required_argument, NULL, 'L'},
                                         {"court-role", required_argument, NULL, 'R'},
                                         {"idempotency-key", required_argument, NULL, 'i'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *court = NULL, *file = NULL, *kind = NULL, *channel = NULL, *source = NULL,
               *lead = NULL, *title = NULL, *content = NULL, *content_file = NULL, *received = NULL,
               *late = NULL, *role = NULL, *idem = NULL;
    const char *deputies[MAX_DEPUTIES];
    size_t n_dep = 0;
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            court = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'C':
            channel = optarg;
            break;
        case 's':
            source = optarg;
            break;
        case 'd':
            if (n_dep < MAX_DEPUTIES)
                deputies[n_dep++] = optarg;
            break;
        case 'l':
            lead = optarg;
            break;
        case 't':
            title = optarg;
            break;
        case 'b':
            content = optarg;
            break;
        case 'B':
            content_file = optarg;
            break;
        case 'r':
            received = optarg;
            break;
        case 'L':
            late = optarg;
            break;
        case 'R':
            role = optarg;
            break;
        case 'i':
            idem = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_item_usage(stdout);
            return CTL_EXIT_OK;
        default:
            s_item_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (!court || optind != argc ||
        (!file && (!kind || !channel || !source || !title || (!content && !content_file)))) {
        fprintf(stderr, "liaisonctl item register: --court and either --file or --kind, --channel, "
                        "--source, --title and --content are required\n");
        s_item_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    char *body = NULL;
    size_t len = 0;
    if (file) {
        body = ctl_read_file(file, &len);
        if (!body) {
            fprintf(stderr, "liaisonctl item register: cannot read %s\n", file);
            return CTL_EXIT_FAILURE;
        }
    } else {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "channel", channel, "source",
                              source, "title", title);
        char *text = NULL;
        if (content_file) {
            size_t n;
            text = ctl_read_file(content_file, &n);
            if (!text) {
                fprintf(stderr, "liaisonctl item register: cannot read %s\n", content_file);
                json_decref(j);
                return CTL_EXIT_FAILURE;
            }
        }
        json_object_set_new(j, "content", json_string(text ? text : content));
        free(text);
        json_t *deps = json_array();
        for (size_t i = 0; i < n_dep; i++) {
            json_t *d = json_pack("{s:s}", "deputy", deputies[i]);
            if (lead && !strcmp(lead, deputies[i]))
                json_object_set_new(d, "lead", json_true());
            json_array_append_new(deps, d);
        }
        json_object_set_new(j, "deputies", deps);
        char now[40];
        if (!received) {
            /* now, in UTC: the daemon reads it in the court's zone */
            time_t t = time(NULL);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
            received = now;
        }
        json_object_set_new(j, "received_at", json_string(received));
        if (late)
            json_object_set_new(j, "late_reason", json_string(late));
        if (role)
            json_object_set_new(j, "court_role", json_string(role));
        body = json_dumps(j, JSON_COMPACT);
        len = body ? strlen(body) : 0;
        json_decref(j);
    }
    char *c = ctl_http_escape(court), path[512];
    snprintf(path, sizeof path, "/v1/courts/%s/items", c);
    free(c);
    ctl_http_resp_t r;
    int rc = ctl_http("intake", "POST", path, "application/json", body, len, idem, &r);
    free(body);
    return ctl_http_finish("item register", rc, &r, json, s_show_registered);
}

static int s_item_read(int argc, char **argv, bool list)
{
    static const struct option opts[] = {{"court", required_argument, NULL, 'c'},
                                         {"kind", required_argument, NULL, 'k'},
                                         {"deputy", required_argument, NULL, 'd'},
                                         {"late", required_argument, NULL, 'L'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"cursor", required_argument, NULL, 'x'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *court = NULL;
    const char *q[7][2] = {{"kind", NULL},          {"deputy", NULL},      {"late", NULL},
                           {"received_from", NULL}, {"received_to", NULL}, {"limit", NULL},
                           {"cursor", NULL}};
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            court = optarg;
            break;
        case 'k':
            q[0][1] = optarg;
            break;
        case 'd':
            q[1][1] = optarg;
            break;
        case 'L':
            q[2][1] = optarg;
            break;
        case 'f':
            q[3][1] = optarg;
            break;
        case 't':
            q[4][1] = optarg;
            break;
        case 'n':
            q[5][1] = optarg;
            break;
        case 'x':
            q[6][1] = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_item_usage(stdout);
            return CTL_EXIT_OK;
        default:
            s_item_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (!court || (list ? optind != argc : optind != argc - 1)) {
        s_item_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    char *c = ctl_http_escape(court), path[2048];
    int n = snprintf(path, sizeof path, "/v1/courts/%s/items", c);
    free(c);
    if (!list) {
        char *id = ctl_http_escape(argv[optind]);
        snprintf(path + n, sizeof path - (size_t)n, "/%s", id);
        free(id);
    } else {
        char sep = '?';
        for (int i = 0; i < 7; i++)
            if (q[i][1]) {
                char *v = ctl_http_escape(q[i][1]);
                n += snprintf(path + n, sizeof path - (size_t)n, "%c%s=%s", sep, q[i][0], v);
                free(v);
                sep = '&';
            }
    }
    ctl_http_resp_t r;
    int rc = ctl_http("intake", "GET", path, NULL, NULL, 0, NULL, &r);
    if (!list && rc == CTL_EXIT_OK) /* the workflow is routing's */
        ctl_routing_augment_item(court, argv[optind], &r);
    return ctl_http_finish(list ? "item list" : "item show", rc, &r, json,
                           list ? s_show_items : s_show_item);
}

int ctl_item(int argc, char **argv)
{
    if (argc < 2) {
        s_item_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "register"))
        return s_item_register(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return s_item_read(argc - 1, argv + 1, false);
    if (!strcmp(argv[1], "list"))
        return s_item_read(argc - 1, argv + 1, true);
    if (ctl_item_workflow_verb(argv[1])) /* propose, approve, …: routing's */
        return ctl_item_workflow(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        s_item_usage(stdout);
        return CTL_EXIT_OK;
    }
    s_item_usage(stderr);
    return CTL_EXIT_USAGE;
}

/* ---- directory ------------------------------------------------------------------------------ */

static void s_directory_usage(FILE *out)
{
    fprintf(
        out,
        "usage: liaisonctl directory court --court C --name NAME [--short-name S] [--template T]\n"
        "                                  [--zone Z] [--json]\n"
        "       liaisonctl directory import --court C KIND FILE.csv [--json]\n"
        "       liaisonctl directory show --court C KIND [--search TEXT] [--json]\n"
        "       liaisonctl directory end-term --court C DEPUTY --date YYYY-MM-DD [--reason R]\n"
        "KIND: departments, staff, groups, deputies (show also: court).\n"
        "CSV: UTF-8, first line the column names (Chinese or English); all rows or none.\n"
        "Exit: 0 ok, 1 failure, 2 usage, 3 refused (each bad row printed).\n");
}

static void s_show_import(json_t *j)
{
    printf("%s: %lld rows — %lld new, %lld changed, %lld unchanged\n", s_str(j, "kind"),
           (long long)json_integer_value(json_object_get(j, "rows")),
           (long long)json_integer_value(json_object_get(j, "created")),
           (long long)json_integer_value(json_object_get(j, "changed")),
           (long long)json_integer_value(json_object_get(j, "unchanged")));
}

static void s_show_court(json_t *j)
{
    printf("%-10s %s\n%-10s %s (%s)\n%-10s %s\n%-10s %s\n%-10s %lld\n", "court", s_str(j, "court"),
           "name", s_str(j, "name"), s_str(j, "short_name"), "zone", s_str(j, "time_zone"),
           "numbers", s_str(j, "registration_number_template"), "revision",
           (long long)json_integer_value(json_object_get(j, "revision")));
}

static const char *s_join(json_t *arr, char *buf, size_t size)
{
    size_t n = 0, i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(arr, i, v) n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
                                                        i ? "、" : "", json_string_value(v));
    return buf;
}

static void s_show_list(json_t *j)
{
    const char *kind = s_str(j, "kind");
    json_t *rows = json_object_get(j, kind);
    size_t i;
    json_t *r;
    char a[256];
    if (!strcmp(kind, "deputies")) {
        static const int w[] = {10, 10, 6, 11, 8, 11, 0};
        ctl_row(stdout, w, 7,
                (const char *[]){"CODE", "NAME", "BODY", "LEVEL", "TERM", "ENDED", "GROUPS"});
        json_array_foreach(rows, i, r)
        {
            ctl_row(stdout, w, 7,
                    (const char *[]){s_str(r, "code"), s_str(r, "name"), s_str(r, "body"),
                                     s_str(r, "level"), s_str(r, "term_status"),
                                     s_str(r, "term_end"),
                                     s_join(json_object_get(r, "groups"), a, sizeof a)});
        }
    } else if (!strcmp(kind, "staff")) {
        static const int w[] = {10, 10, 10, 0};
        ctl_row(stdout, w, 4, (const char *[]){"CODE", "NAME", "DEPT", "ROLES"});
        json_array_foreach(rows, i, r)
        {
            ctl_row(stdout, w, 4,
                    (const char *[]){s_str(r, "code"), s_str(r, "name"), s_str(r, "department"),
                                     s_join(json_object_get(r, "roles"), a, sizeof a)});
        }
    } else if (!strcmp(kind, "departments")) {
        static const int w[] = {10, 16, 18, 10, 0};
        ctl_row(stdout, w, 5, (const char *[]){"CODE", "NAME", "KIND", "HEAD", "SUPERVISOR"});
        json_array_foreach(rows, i, r)
        {
            ctl_row(stdout, w, 5,
                    (const char *[]){s_str(r, "code"), s_str(r, "name"), s_str(r, "kind"),
                                     s_str(r, "head"), s_str(r, "supervising_leader")});
        }
    } else {
        static const int w[] = {10, 20, 10, 10, 0};
        ctl_row(stdout, w, 5, (const char *[]){"CODE", "NAME", "KIND", "PARENT", "OFFICER"});
        json_array_foreach(rows, i, r)
        {
            ctl_row(stdout, w, 5,
                    (const char *[]){s_str(r, "code"), s_str(r, "name"), s_str(r, "kind"),
                                     s_str(r, "parent"), s_str(r, "liaison_officer")});
        }
    }
    printf("(%zu)\n", json_array_size(rows));
}

int ctl_directory(int argc, char **argv)
{
    static const struct option opts[] = {{"court", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"short-name", required_argument, NULL, 's'},
                                         {"template", required_argument, NULL, 't'},
                                         {"zone", required_argument, NULL, 'z'},
                                         {"search", required_argument, NULL, 'q'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2) {
        s_directory_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        s_directory_usage(stdout);
        return CTL_EXIT_OK;
    }
    const char *court = NULL, *name = NULL, *short_name = NULL, *tmpl = NULL, *zone = NULL,
               *search = NULL, *date = NULL, *reason = NULL;
    bool json = false;
    int o;
    argc--;
    argv++;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            court = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 's':
            short_name = optarg;
            break;
        case 't':
            tmpl = optarg;
            break;
        case 'z':
            zone = optarg;
            break;
        case 'q':
            search = optarg;
            break;
        case 'd':
            date = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_directory_usage(stdout);
            return CTL_EXIT_OK;
        default:
            s_directory_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (!court) {
        fprintf(stderr, "liaisonctl directory %s: --court is required\n", sub);
        return CTL_EXIT_USAGE;
    }
    char *c = ctl_http_escape(court), path[1024];
    ctl_http_resp_t r;
    int rc;
    if (!strcmp(sub, "court") && optind == argc && name) {
        json_t *j = json_pack("{s:s}", "name", name);
        if (short_name)
            json_object_set_new(j, "short_name", json_string(short_name));
        if (tmpl)
            json_object_set_new(j, "registration_number_template", json_string(tmpl));
        if (zone)
            json_object_set_new(j, "time_zone", json_string(zone));
        char *body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        snprintf(path, sizeof path, "/v1/courts/%s", c);
        rc = ctl_http("intake", "PUT", path, "application/json", body, strlen(body), NULL, &r);
        free(body);
        free(c);
        return ctl_http_finish("directory court", rc, &r, json, s_show_court);
    }
    if (!strcmp(sub, "import") && optind == argc - 2) {
        size_t len;
        char *csv = ctl_read_file(argv[optind + 1], &len);
        if (!csv) {
            fprintf(stderr, "liaisonctl directory import: cannot read %s\n", argv[optind + 1]);
            free(c);
            return CTL_EXIT_FAILURE;
        }
        char *k = ctl_http_escape(argv[optind]);
        snprintf(path, sizeof path, "/v1/courts/%s/directory/%s", c, k);
        free(k);
        rc = ctl_http("intake", "POST", path, "text/csv; charset=utf-8", csv, len, NULL, &r);
        free(csv);
        free(c);
        return ctl_http_finish("directory import", rc, &r, json, s_show_import);
    }
    if (!strcmp(sub, "show") && optind == argc - 1) {
        bool is_court = !strcmp(argv[optind], "court");
        char *k = ctl_http_escape(argv[optind]);
        if (is_court)
            snprintf(path, sizeof path, "/v1/courts/%s", c);
        else {
            int n = snprintf(path, sizeof path, "/v1/courts/%s/directory/%s", c, k);
            if (search) {
                char *s = ctl_http_escape(search);
                snprintf(path + n, sizeof path - (size_t)n, "?q=%s", s);
                free(s);
            }
        }
        free(k);
        free(c);
        rc = ctl_http("intake", "GET", path, NULL, NULL, 0, NULL, &r);
        return ctl_http_finish("directory show", rc, &r, json,
                               is_court ? s_show_court : s_show_list);
    }
    if (!strcmp(sub, "end-term") && optind == argc - 1 && date) {
        json_t *j = json_pack("{s:s, s:s}", "end_date", date, "reason", reason ? reason : "");
        char *body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        char *d = ctl_http_escape(argv[optind]);
        snprintf(path, sizeof path, "/v1/courts/%s/deputies/%s/end-term", c, d);
        free(d);
        free(c);
        rc = ctl_http("intake", "POST", path, "application/json", body, strlen(body), NULL, &r);
        free(body);
        return ctl_http_finish("directory end-term", rc, &r, json, NULL);
    }
    free(c);
    s_directory_usage(stderr);
    return CTL_EXIT_USAGE;
}

/* ---- token -------------------------------------------------------------------------------- */

static void s_token_usage(FILE *out)
{
    fprintf(out, "usage: liaisonctl token create --role ROLE [--court C] [--department D] [--staff "
                 "S] [--name N] [--json]\n"
                 "       liaisonctl token revoke SHA256 [--reason R]\n"
                 "ROLE: liaison_office, leader, department, operator, auditor, system.\n"
                 "The token is printed once; only its SHA-256 is stored.\n");
}

static void s_show_token(json_t *j)
{
    printf("%s\n", s_str(j, "token"));
    fprintf(stderr, "role %s, court %s%s%s; sha256 %s\n", s_str(j, "role"),
            json_object_get(j, "court") ? s_str(j, "court") : "(all)",
            json_object_get(j, "department") ? ", department " : "", s_str(j, "department"),
            s_str(j, "token_sha256"));
}

int ctl_token(int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"court", required_argument, NULL, 'c'},
                                         {"department", required_argument, NULL, 'd'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"reason", required_argument, NULL, 'R'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"staff", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2) {
        s_token_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *sub = argv[1], *role = NULL, *court = NULL, *dept = NULL, *name = NULL,
               *reason = NULL, *staff = NULL;
    bool json = false;
    int o;
    argc--;
    argv++;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            role = optarg;
            break;
        case 'c':
            court = optarg;
            break;
        case 'd':
            dept = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 's':
            staff = optarg;
            break;
        case 'R':
            reason = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_token_usage(stdout);
            return CTL_EXIT_OK;
        default:
            s_token_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    ctl_http_resp_t r;
    if (!strcmp(sub, "create") && role && optind == argc) {
        json_t *j = json_pack("{s:s}", "role", role);
        if (court)
            json_object_set_new(j, "court", json_string(court));
        if (dept)
            json_object_set_new(j, "department", json_string(dept));
        if (name)
            json_object_set_new(j, "name", json_string(name));
        if (staff)
            json_object_set_new(j, "staff", json_string(staff));
        char *body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        int rc = ctl_http("intake", "POST", "/v1/tokens", "application/json", body, strlen(body),
                          NULL, &r);
        free(body);
        return ctl_http_finish("token create", rc, &r, json, s_show_token);
    }
    if (!strcmp(sub, "revoke") && optind == argc - 1) {
        json_t *j = json_pack("{s:s}", "reason", reason ? reason : "");
        char *body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        char *h = ctl_http_escape(argv[optind]), path[256];
        snprintf(path, sizeof path, "/v1/tokens/%s/revoke", h);
        free(h);
        int rc = ctl_http("intake", "POST", path, "application/json", body, strlen(body), NULL, &r);
        free(body);
        return ctl_http_finish("token revoke", rc, &r, json, NULL);
    }
    s_token_usage(stderr);
    return CTL_EXIT_USAGE;
}
