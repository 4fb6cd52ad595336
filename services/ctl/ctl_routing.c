/* liaisonctl item VERB, liaisonctl queue — the routing daemon's API.
 *
 *   liaisonctl item VERB --court C ID [OPTIONS] [--idempotency-key K] [--file BODY.json] [--json]
 *   liaisonctl item history --court C ID [--json]
 *   liaisonctl queue [NAME] --court C [--department D] [--limit N] [--cursor X] [--json]
 *
 * VERB is a workflow command of POST /v1/courts/{court}/items/{id}/{verb}:
 * propose approve decline reject-plan transfer accept return consult
 * co-opinion draft-reply approve-reply reject-reply reply evaluate reopen
 * answer-on-spot forward forward-result withdraw close. The options become
 * the request's fields (--opinion, --reason, --text, ...); --lead DEPT and
 * --co DEPT (repeated) make the plan's assignments; --participant (repeated)
 * the participants of a consultation. The server checks them: a refusal
 * prints its problem (code, field, English and Chinese) and exits 3.
 *
 * Exit codes: 0 done, 1 no answer or a server failure, 2 usage, 3 refused.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"
#include "ctl/ctl_routing.h"

static const char *const s_verbs[] = {"propose",
                                      "approve",
                                      "decline",
                                      "reject-plan",
                                      "transfer",
                                      "accept",
                                      "return",
                                      "consult",
                                      "co-opinion",
                                      "progress",
                                      "draft-reply",
                                      "approve-reply",
                                      "reject-reply",
                                      "reply",
                                      "evaluate",
                                      "reopen",
                                      "answer-on-spot",
                                      "forward",
                                      "forward-result",
                                      "withdraw",
                                      "close",
                                      "history",
                                      NULL};

bool ctl_item_workflow_verb(const char *verb)
{
    for (size_t i = 0; verb && s_verbs[i]; i++)
        if (strcmp(verb, s_verbs[i]) == 0)
            return true;
    return false;
}

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: liaisonctl item VERB --court C ID [OPTIONS] [--idempotency-key K]\n"
        "                            [--file BODY.json] [--json]\n"
        "       liaisonctl item history --court C ID [--json]\n"
        "VERB and its options (all text; the server says what is missing):\n"
        "  propose        --opinion T --lead DEPT [--co DEPT]... [--instructions T] [--approver "
        "STAFF]\n"
        "  approve        [--comment T] [--lead DEPT --co DEPT...]   (the approver)\n"
        "  decline        --reason T     (不列入办理事项, Art. 15; the approver)\n"
        "  reject-plan    --reason T     (the approver sends the plan back)\n"
        "  transfer       [--lead DEPT [--co DEPT]...]   (Art. 15: within two days)\n"
        "  accept                        (the lead department takes it in hand)\n"
        "  return         --reason T     (退回: not this department's matter)\n"
        "  consult        --summary T [--date YYYY-MM-DD] [--mode face-to-face|phone|visit|"
        "letter|other]\n"
        "                 [--participant NAME]...   (面商, Art. 14)\n"
        "  co-opinion     --opinion T    (a co-handler's opinion to the lead unit, Art. 14)\n"
        "  progress       --progress T [--result-reported]   (Art. 20: to the liaison office)\n"
        "  draft-reply    --category A|B|C --text T\n"
        "  approve-reply  [--comment T]  (the supervising court leader, Art. 14)\n"
        "  reject-reply   --reason T\n"
        "  reply          [--deputy D] [--method letter|in-person|phone|sms|email|"
        "official-system]\n"
        "                 [--category C] [--text T]   (one deputy at a time)\n"
        "  evaluate       --satisfaction satisfied|basic|unsatisfied [--deputy D] [--comment "
        "T]\n"
        "  reopen         --reason T\n"
        "  answer-on-spot --answer T     (Art. 16)\n"
        "  forward        --target petition-office|supervision-office [--department D] "
        "[--note T]\n"
        "  forward-result --result T     (Art. 17)\n"
        "  withdraw       [--deputy D] [--reason T]\n"
        "  close\n"
        "Exit: 0 done, 1 failure, 2 usage, 3 refused (the problem is printed).\n");
}

static const char *s_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void ctl_routing_show_workflow(json_t *item)
{
    json_t *wf = json_object_get(item, "workflow");
    if (!json_is_object(wf))
        return;
    printf("workflow: %s (%s), round %lld", s_str(wf, "state"), s_str(wf, "state_zh"),
           (long long)json_integer_value(json_object_get(wf, "round")));
    json_t *a = json_object_get(wf, "assignments");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        printf("%s %s%s%s", i ? "," : "; departments", s_str(e, "name"),
               strcmp(s_str(e, "role"), "lead") == 0 ? " (主办)" : " (协办)", "");
    }
    printf("\n");
    json_t *allowed = json_object_get(wf, "allowed");
    if (json_array_size(allowed)) {
        printf("next:");
        json_array_foreach(allowed, i, e)
        {
            printf(" %s", json_string_value(e));
        }
        printf("\n");
    }
}

static void s_show_item(json_t *j)
{
    printf("%s  %s (%s), round %lld, version %lld\n", s_str(j, "item_id"), s_str(j, "state"),
           s_str(j, "state_zh"), (long long)json_integer_value(json_object_get(j, "round")),
           (long long)json_integer_value(json_object_get(j, "version")));
    json_t *events = json_object_get(j, "events");
    size_t i;
    json_t *e;
    if (json_array_size(events)) {
        printf("events:");
        json_array_foreach(events, i, e)
        {
            const char *t = s_str(e, "type");
            printf(" %s", strncmp(t, "liaison.v1.", 11) == 0 ? t + 11 : t);
        }
        printf("\n");
    }
}

static void s_show_history(json_t *j)
{
    json_t *h = json_object_get(j, "history");
    size_t i;
    json_t *e;
    json_array_foreach(h, i, e)
    {
        json_t *actor = json_object_get(e, "actor");
        const char *name = s_str(actor, "name");
        printf("%3lld  %.19s  %-15s %s → %s  round %lld  %s%s%s\n",
               (long long)json_integer_value(json_object_get(e, "n")), s_str(e, "at"),
               s_str(e, "action"), s_str(e, "from"), s_str(e, "to"),
               (long long)json_integer_value(json_object_get(e, "round")), s_str(actor, "role"),
               *name ? " " : "", name);
    }
    printf("(%zu steps; now %s)\n", json_array_size(h), s_str(j, "state"));
}

/* The text options every verb may carry, as the request's fields. */
static const char *const s_fields[] = {
    "opinion", "approver", "comment", "reason",       "date",   "mode",   "summary",    "category",
    "text",    "deputy",   "method",  "satisfaction", "answer", "target", "department", "note",
    "result",  "progress", NULL};

#define N_FIELDS (sizeof s_fields / sizeof s_fields[0] - 1)

static int s_workflow(int argc, char **argv)
{
    const char *verb = argv[0];
    enum { O_COURT = 1000, O_JSON, O_KEY, O_FILE, O_LEAD, O_CO, O_PART, O_INS, O_RR, O_HELP };
    struct option opts[40];
    size_t n = 0;
    for (size_t i = 0; s_fields[i]; i++)
        opts[n++] = (struct option){s_fields[i], required_argument, NULL, (int)i};
    opts[n++] = (struct option){"court", required_argument, NULL, O_COURT};
    opts[n++] = (struct option){"json", no_argument, NULL, O_JSON};
    opts[n++] = (struct option){"idempotency-key", required_argument, NULL, O_KEY};
    opts[n++] = (struct option){"file", required_argument, NULL, O_FILE};
    opts[n++] = (struct option){"lead", required_argument, NULL, O_LEAD};
    opts[n++] = (struct option){"co", required_argument, NULL, O_CO};
    opts[n++] = (struct option){"participant", required_argument, NULL, O_PART};
    opts[n++] = (struct option){"instructions", required_argument, NULL, O_INS};
    opts[n++] = (struct option){"result-reported", no_argument, NULL, O_RR};
    opts[n++] = (struct option){"help", no_argument, NULL, O_HELP};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    const char *court = NULL, *key = NULL, *file = NULL, *instructions = "";
    bool json = false;
    json_t *body = json_object(), *leads = json_array(), *cos = json_array(), *parts = json_array();
    int o, rc = CTL_EXIT_USAGE;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o >= 0 && (size_t)o < N_FIELDS) {
            json_object_set_new(body, s_fields[o], json_string(optarg));
            continue;
        }
        switch (o) {
        case O_COURT:
            court = optarg;
            break;
        case O_JSON:
            json = true;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_FILE:
            file = optarg;
            break;
        case O_LEAD:
            json_array_append_new(leads, json_string(optarg));
            break;
        case O_CO:
            json_array_append_new(cos, json_string(optarg));
            break;
        case O_PART:
            json_array_append_new(parts, json_string(optarg));
            break;
        case O_INS:
            instructions = optarg;
            break;
        case O_RR:
            json_object_set_new(body, "result_reported", json_true());
            break;
        case O_HELP:
            s_usage(stdout);
            rc = CTL_EXIT_OK;
            goto out;
        default:
            s_usage(stderr);
            goto out;
        }
    }
    if (!court || optind != argc - 1) {
        s_usage(stderr);
        goto out;
    }
    char *c = ctl_http_escape(court), *id = ctl_http_escape(argv[optind]), path[1024];
    bool history = strcmp(verb, "history") == 0;
    snprintf(path, sizeof path, "/v1/courts/%s/items/%s/%s", c, id, verb);
    free(c);
    free(id);
    ctl_http_resp_t r;
    if (history) {
        rc = ctl_http("routing", "GET", path, NULL, NULL, 0, NULL, &r);
        rc = ctl_http_finish("item history", rc, &r, json, s_show_history);
        goto out;
    }
    char *text = NULL;
    size_t len = 0;
    if (file) {
        text = ctl_read_file(file, &len);
        if (!text) {
            fprintf(stderr, "liaisonctl item %s: cannot read %s\n", verb, file);
            goto out;
        }
    } else {
        size_t i;
        json_t *e;
        if (json_array_size(leads) || json_array_size(cos)) {
            json_t *a = json_array();
            json_array_foreach(leads, i, e)
            {
                json_array_append_new(a, json_pack("{s:O, s:s, s:s}", "department", e, "role",
                                                   "lead", "instructions", instructions));
            }
            json_array_foreach(cos, i, e)
            {
                json_array_append_new(a, json_pack("{s:O, s:s}", "department", e, "role", "co"));
            }
            json_object_set_new(body, "assignments", a);
        }
        if (json_array_size(parts))
            json_object_set(body, "participants", parts);
        text = json_dumps(body, JSON_COMPACT);
        len = text ? strlen(text) : 0;
    }
    char command[64];
    snprintf(command, sizeof command, "item %s", verb);
    rc = ctl_http("routing", "POST", path, "application/json", text, len, key, &r);
    free(text);
    rc = ctl_http_finish(command, rc, &r, json, s_show_item);
out:
    json_decref(body);
    json_decref(leads);
    json_decref(cos);
    json_decref(parts);
    return rc;
}

int ctl_item_workflow(int argc, char **argv)
{
    if (argc < 1 || !ctl_item_workflow_verb(argv[0])) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    return s_workflow(argc, argv);
}

/* The routing workflow of an item, added to intake's answer of `item show`
 * as "workflow" (and "state"): best effort, the item shows without it when
 * routing does not answer. */
void ctl_routing_augment_item(const char *court, const char *id, ctl_http_resp_t *item)
{
    if (!item->json || !json_is_object(item->json))
        return;
    char *c = ctl_http_escape(court), *i = ctl_http_escape(id), path[1024];
    snprintf(path, sizeof path, "/v1/courts/%s/items/%s", c, i);
    free(c);
    free(i);
    ctl_http_resp_t r;
    if (ctl_http("routing", "GET", path, NULL, NULL, 0, NULL, &r) == CTL_EXIT_OK && r.json) {
        json_object_set(item->json, "workflow", r.json);
        json_object_set(item->json, "state", json_object_get(r.json, "state"));
    } else {
        json_object_set_new(item->json, "workflow", json_null());
    }
    ctl_http_resp_free(&r);
    char *text = json_dumps(item->json, JSON_COMPACT);
    if (text) {
        free(item->body);
        item->body = text;
        item->len = strlen(text);
    }
}

/* ---- queue ---------------------------------------------------------------------------- */

static void s_queue_usage(FILE *out)
{
    fprintf(out,
            "usage: liaisonctl queue [NAME] --court C [--department D] [--limit N] [--cursor X] "
            "[--json]\n"
            "NAME: awaiting-approval, reply-signoff, department, awaiting-transfer,\n"
            "      awaiting-proposal, awaiting-reply, awaiting-evaluation, forwarded.\n"
            "Without NAME: the queues of the token's role, with counts and oldest age.\n");
}

static void s_age(long long s, char *buf, size_t size)
{
    if (s >= 86400)
        snprintf(buf, size, "%lldd%lldh", s / 86400, (s % 86400) / 3600);
    else if (s >= 3600)
        snprintf(buf, size, "%lldh%lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, size, "%llds", s);
}

static void s_show_queues(json_t *j)
{
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(j, "queues"), i, q)
    {
        char age[32];
        s_age((long long)json_integer_value(json_object_get(q, "oldest_age_seconds")), age,
              sizeof age);
        printf("%-20s %5lld  oldest %-8s %s\n", s_str(q, "queue"),
               (long long)json_integer_value(json_object_get(q, "count")), age,
               s_str(q, "title_zh"));
    }
}

static void s_show_queue(json_t *j)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "items"), i, e)
    {
        char age[32];
        s_age((long long)json_integer_value(json_object_get(e, "age_seconds")), age, sizeof age);
        printf("%s  %-18s %-8s %s  %s\n", s_str(e, "item_id"), s_str(e, "state"), age,
               s_str(e, "registration_number"), s_str(e, "title"));
    }
    printf("(%lld in %s", (long long)json_integer_value(json_object_get(j, "count")),
           s_str(j, "queue"));
    if (json_is_string(json_object_get(j, "next_cursor")))
        printf("; more: --cursor %s", s_str(j, "next_cursor"));
    printf(")\n");
}

int ctl_queue(int argc, char **argv)
{
    static const struct option opts[] = {{"court", required_argument, NULL, 'c'},
                                         {"department", required_argument, NULL, 'd'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"cursor", required_argument, NULL, 'x'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *court = NULL, *q[3][2] = {{"department", NULL}, {"limit", NULL}, {"cursor", NULL}};
    bool json = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            court = optarg;
            break;
        case 'd':
            q[0][1] = optarg;
            break;
        case 'n':
            q[1][1] = optarg;
            break;
        case 'x':
            q[2][1] = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_queue_usage(stdout);
            return CTL_EXIT_OK;
        default:
            s_queue_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (!court || argc - optind > 1) {
        s_queue_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *name = optind < argc ? argv[optind] : NULL;
    char *c = ctl_http_escape(court), path[2048];
    int n = snprintf(path, sizeof path, "/v1/courts/%s/queues", c);
    free(c);
    if (name) {
        char *e = ctl_http_escape(name);
        n += snprintf(path + n, sizeof path - (size_t)n, "/%s", e);
        free(e);
    }
    char sep = '?';
    for (int i = 0; i < 3; i++)
        if (q[i][1]) {
            char *v = ctl_http_escape(q[i][1]);
            n += snprintf(path + n, sizeof path - (size_t)n, "%c%s=%s", sep, q[i][0], v);
            free(v);
            sep = '&';
        }
    ctl_http_resp_t r;
    int rc = ctl_http("routing", "GET", path, NULL, NULL, 0, NULL, &r);
    return ctl_http_finish("queue", rc, &r, json, name ? s_show_queue : s_show_queues);
}
