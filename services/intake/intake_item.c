/* intake_item — registering items (登记, Art. 13), reading them back.
 *
 *   POST /v1/courts/{court}/items        register (Idempotency-Key honoured)
 *   GET  /v1/courts/{court}/items/{id}   one item
 *   GET  /v1/courts/{court}/items        list, filters and keyset paging
 *
 * A registration runs on a worker in this order, so that the cheapest
 * refusal comes first and nothing is stored or published unless every
 * check passed: token → role and court → Content-Type → UTF-8 → JSON →
 * fields → court (zone, template) → dates (late needs a reason) → the
 * registration joins a batch (intake_pool.c) that runs as one transaction.
 * Mostly numbered ahead, in one round trip: the daemon numbers the batch
 * from the counter its last commit left and the roster entries it cached,
 * and item_register_numbered() checks all of it set-wise, stores it and
 * moves the counter only from the value expected (see "numbered ahead"
 * below). Otherwise, and whenever that raises, in two steps:
 * item_reserve_batch() per court (item_claim() for each registration:
 * idempotency key, deputies on the court's roster and serving, a refusal
 * writing nothing; then one counter update), item_store_batch() (the items
 * and their deputies, the event `liaison.v1.ItemRegistered` in the outbox,
 * the answer kept for each key) → COMMIT. A failure after the serials are
 * taken rolls the batch back, the counter's increment included, and its
 * registrations run again one by one, so numbers stay gapless.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bus.h"
#include "common/log.h"
#include "domain/date.h"
#include "domain/lifecycle.h"
#include "domain/regnum.h"
#include "domain/utf8.h"
#include "intake/intake.h"
#include "liaison/v1/items.pb-c.h"

/* A received time a little ahead of the server's clock is the sender's
 * clock running fast, not a time in the future: tolerate this much. */
#define FUTURE_SKEW_US       (60 * 1000000LL)
#define TITLE_MAX_CHARS      500
#define SHORT_TEXT_MAX_CHARS 500
#define ATTACHMENTS_MAX      100
#define RETRIES              3

/* ---- vocabularies: API name, protobuf value, domain kind, Chinese -------- */

typedef struct {
    const char *name;
    int proto;
    const char *domain; /* kinds only: the domain/lifecycle.h kind */
    bool session;       /* kinds only: a session item (Art. 14) */
} vocab_t;

static const vocab_t s_kinds[] = {
    {"session-bill", LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_BILL, "session-proposal", true},
    {"session-suggestion", LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_SUGGESTION, "session-proposal",
     true},
    {"between-sessions", LIAISON__V1__ITEM_KIND__ITEM_KIND_BETWEEN_SESSIONS, "between-session",
     false},
    {"remark", LIAISON__V1__ITEM_KIND__ITEM_KIND_REMARK, "remark", false},
    {"forwarded-complaint", LIAISON__V1__ITEM_KIND__ITEM_KIND_FORWARDED_COMPLAINT,
     "complaint-letter", false},
    {"supervised-case", LIAISON__V1__ITEM_KIND__ITEM_KIND_SUPERVISED_CASE, "supervised-case",
     false},
    {"followed-case", LIAISON__V1__ITEM_KIND__ITEM_KIND_FOLLOWED_CASE, "followed-case", false},
    {"deputy-letter", LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_LETTER, "deputy-letter", false},
    {"deputy-visit", LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_VISIT, "deputy-letter", false},
    {NULL, 0, NULL, false},
};

static const vocab_t s_channels[] = {
    {"session-delivery", LIAISON__V1__CHANNEL__CHANNEL_SESSION_DELIVERY, NULL, false},
    {"letter", LIAISON__V1__CHANNEL__CHANNEL_LETTER, NULL, false},
    {"visit", LIAISON__V1__CHANNEL__CHANNEL_VISIT, NULL, false},
    {"phone", LIAISON__V1__CHANNEL__CHANNEL_PHONE, NULL, false},
    {"walkabout", LIAISON__V1__CHANNEL__CHANNEL_WALKABOUT, NULL, false},
    {"forum", LIAISON__V1__CHANNEL__CHANNEL_FORUM, NULL, false},
    {"official-transfer", LIAISON__V1__CHANNEL__CHANNEL_OFFICIAL_TRANSFER, NULL, false},
    {"mailbox", LIAISON__V1__CHANNEL__CHANNEL_MAILBOX, NULL, false},
    {"email", LIAISON__V1__CHANNEL__CHANNEL_EMAIL, NULL, false},
    {"other", LIAISON__V1__CHANNEL__CHANNEL_OTHER, NULL, false},
    {NULL, 0, NULL, false},
};

static const vocab_t s_sources[] = {
    {"deputy-direct", LIAISON__V1__SOURCE__SOURCE_DEPUTY_DIRECT, NULL, false},
    {"congress", LIAISON__V1__SOURCE__SOURCE_CONGRESS, NULL, false},
    {"standing-committee", LIAISON__V1__SOURCE__SOURCE_STANDING_COMMITTEE, NULL, false},
    {"upper-court", LIAISON__V1__SOURCE__SOURCE_UPPER_COURT, NULL, false},
    {"cppcc", LIAISON__V1__SOURCE__SOURCE_CPPCC, NULL, false},
    {"other", LIAISON__V1__SOURCE__SOURCE_OTHER, NULL, false},
    {NULL, 0, NULL, false},
};

static const vocab_t *s_vocab_find(const vocab_t *v, const char *name)
{
    for (; v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

static void s_vocab_list(const vocab_t *v, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (; v->name && n < size; v++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", v->name);
}

/* ---- instants ---------------------------------------------------------------- */

static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int intake_parse_instant(const char *text, int64_t *us)
{
    /* YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM) */
    domain_date_t date;
    size_t len = strlen(text);
    if (len < 20 || (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':' ||
        domain_date_parse_n(text, 10, &date) != 0)
        return -1;
    int h, m, s;
    if (s_digits(text + 11, 2, &h) || s_digits(text + 14, 2, &m) || s_digits(text + 17, 2, &s) ||
        h > 23 || m > 59 || s > 59)
        return -1;
    const char *p = text + 19;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 6)
                frac = frac * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0 || nd > 9)
            return -1;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (s_digits(p + 1, 2, &oh) || p[3] != ':' || s_digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    int64_t secs = (int64_t)domain_date_to_days(date) * 86400 + h * 3600 + m * 60 + s - offset;
    *us = secs * 1000000 + frac;
    return 0;
}

void intake_format_instant(int64_t us, int32_t offset_s, char *buf, size_t size)
{
    int64_t secs = (us >= 0 ? us / 1000000 : (us - 999999) / 1000000) + offset_s;
    int64_t frac = us - (secs - offset_s) * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    domain_date_t d = domain_date_from_days((int32_t)days);
    char sign = offset_s < 0 ? '-' : '+';
    int32_t off = offset_s < 0 ? -offset_s : offset_s;
    if (frac)
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%c%02d:%02d", d.year, d.month,
                 d.day, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long long)frac,
                 sign, off / 3600, off / 60 % 60);
    else
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", d.year, d.month, d.day,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), sign, off / 3600,
                 off / 60 % 60);
}

bool intake_content_type_is(const char *content_type, const char *want)
{
    if (!content_type)
        return false;
    size_t n = strlen(want);
    while (*content_type == ' ')
        content_type++;
    if (strncasecmp(content_type, want, n) != 0)
        return false;
    const char *rest = content_type + n;
    while (*rest == ' ')
        rest++;
    return *rest == '\0' || *rest == ';';
}

/* ---- publishing ---------------------------------------------------------------- */

/* The envelope of an event of intake's stream; event_id[37] receives its
 * new id (env points into it and into the arguments). */
static void s_envelope(Liaison__V1__Envelope *env, char event_id[37], const char *type,
                       const char *court, const char *item_id, const char *correlation,
                       const void *payload, size_t len)
{
    bus_uuid7(event_id);
    liaison__v1__envelope__init(env);
    env->envelope_version = BUS_ENVELOPE_VERSION;
    env->event_id = event_id;
    env->type = (char *)type;
    env->stream = INTAKE_STREAM;
    env->court_id = (char *)(court ? court : "");
    env->item_id = (char *)(item_id ? item_id : "");
    env->occurred_at_us = 0;
    env->correlation_id =
        (char *)(correlation && bus_uuid_valid(correlation) ? correlation : event_id);
    env->causation_id = "";
    env->producer = INTAKE_PRODUCER;
    env->producer_version = INTAKE_VERSION;
    env->schema_version = 1;
    env->payload.data = (uint8_t *)payload;
    env->payload.len = len;
}

int intake_publish(PGconn *conn, const char *type, const char *court, const char *item_id,
                   const char *correlation, const void *payload, size_t len)
{
    char event_id[37];
    Liaison__V1__Envelope env;
    s_envelope(&env, event_id, type, court, item_id, correlation, payload, len);
    char *error = NULL;
    if (bus_publish(conn, &env, &error) != 0) {
        log_error("intake: publish failed", "type=%s error=\"%s\"", type, error ? error : "?");
        free(error);
        return -1;
    }
    return 0;
}

/* The outbox row of an event for item_store_batch(): the envelope exactly
 * as bus_publish() would insert it (bus_envelope_pack), in hex. NULL on
 * failure (logged). */
static json_t *s_outbox_row(const char *type, const char *court, const char *item_id,
                            const void *payload, size_t len)
{
    char event_id[37];
    Liaison__V1__Envelope env;
    s_envelope(&env, event_id, type, court, item_id, NULL, payload, len);
    uint8_t *buf = NULL;
    size_t n = 0;
    char *error = NULL;
    if (bus_envelope_pack(&env, &buf, &n, &error) != 0) {
        log_error("intake: publish failed", "type=%s error=\"%s\"", type, error ? error : "?");
        free(error);
        return NULL;
    }
    char *hex = malloc(2 * n + 1);
    json_t *row = NULL;
    if (hex) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
            hex[2 * i] = digits[buf[i] >> 4];
            hex[2 * i + 1] = digits[buf[i] & 15];
        }
        hex[2 * n] = '\0';
        row = json_pack("{s:s, s:s, s:s, s:s}", "stream", env.stream, "event_id", event_id, "type",
                        type, "envelope", hex);
    }
    free(hex);
    free(buf);
    return row;
}

/* ---- validation of the request --------------------------------------------------- */

typedef struct {
    const vocab_t *kind, *channel, *source;
    const char *source_detail, *source_reference;
    const char *deputies[DOMAIN_ITEM_MAX_DEPUTIES];
    bool lead[DOMAIN_ITEM_MAX_DEPUTIES];
    size_t n_deputies;
    json_t *session; /* borrowed */
    const char *congress;
    int term_number, meeting_number;
    domain_date_t closing_date;
    bool has_session;
    const char *court_role;
    const char *title, *content, *late_reason, *department;
    int64_t received_us;
    json_t *attachments; /* borrowed */
} reg_t;

static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool s_has_control(const char *s, bool allow_newlines)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
            return true;
        if (c == 0x7f)
            return true;
    }
    return false;
}

/* A string member: required or not, non-empty, no NUL inside, length. */
static bool s_text(intake_job_t *job, json_t *obj, const char *key, const char *field,
                   bool required, bool multiline, size_t max_chars, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            intake_job_problemf(job, 422, "missing_field", field, "缺少必填字段。",
                                "The field %s is required.", field);
        return !required;
    }
    if (!json_is_string(v)) {
        intake_job_problemf(job, 422, "wrong_type", field, "字段类型错误，应为字符串。",
                            "The field %s must be a string.", field);
        return false;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || s_has_control(s, multiline)) {
        intake_job_problemf(job, 422, "invalid_value", field, "字段含有不允许的控制字符。",
                            "The field %s holds control characters.", field);
        return false;
    }
    if (required && !*s) {
        intake_job_problemf(job, 422, "missing_field", field, "必填字段不能为空。",
                            "The field %s must not be empty.", field);
        return false;
    }
    if (max_chars && s_chars(s) > max_chars) {
        intake_job_problemf(job, 422, "too_long", field, "字段超过长度上限。",
                            "The field %s is longer than %zu characters.", field, max_chars);
        return false;
    }
    *out = s;
    return true;
}

static bool s_vocab(intake_job_t *job, json_t *obj, const char *key, const vocab_t *v,
                    bool required, const vocab_t **out)
{
    const char *s;
    *out = NULL;
    if (!s_text(job, obj, key, key, required, false, 64, &s))
        return false;
    if (!s)
        return true;
    *out = s_vocab_find(v, s);
    if (!*out) {
        char list[400];
        s_vocab_list(v, list, sizeof list);
        intake_job_problemf(job, 422, "invalid_value", key, "字段取值不在允许范围内。",
                            "The field %s must be one of: %s.", key, list);
        return false;
    }
    return true;
}

static bool s_int(intake_job_t *job, json_t *obj, const char *key, const char *field, long long min,
                  long long max, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        intake_job_problemf(job, 422, "missing_field", field, "缺少必填字段。",
                            "The field %s is required.", field);
        return false;
    }
    if (!json_is_integer(v)) {
        intake_job_problemf(job, 422, "wrong_type", field, "字段类型错误，应为整数。",
                            "The field %s must be an integer.", field);
        return false;
    }
    *out = json_integer_value(v);
    if (*out < min || *out > max) {
        intake_job_problemf(job, 422, "invalid_value", field, "字段取值超出范围。",
                            "The field %s must be from %lld to %lld.", field, min, max);
        return false;
    }
    return true;
}

static bool s_known_keys(intake_job_t *job, json_t *obj, const char *const *keys,
                         const char *prefix)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = strcmp(keys[i], k) == 0;
        if (!known) {
            char field[300];
            snprintf(field, sizeof field, "%s%s", prefix, k);
            intake_job_problemf(job, 422, "unknown_field", field, "请求含有未知字段。",
                                "The field %s is not known.", field);
            return false;
        }
    }
    return true;
}

static bool s_validate(intake_job_t *job, json_t *root, int64_t now_us, reg_t *r)
{
    static const char *const keys[] = {"kind",
                                       "channel",
                                       "source",
                                       "source_detail",
                                       "source_reference",
                                       "deputies",
                                       "session",
                                       "court_role",
                                       "title",
                                       "content",
                                       "received_at",
                                       "late_reason",
                                       "attachments",
                                       "receiving_department",
                                       NULL};
    memset(r, 0, sizeof *r);
    if (!s_known_keys(job, root, keys, ""))
        return false;
    if (!s_vocab(job, root, "kind", s_kinds, true, &r->kind) ||
        !s_vocab(job, root, "channel", s_channels, true, &r->channel) ||
        !s_vocab(job, root, "source", s_sources, true, &r->source))
        return false;
    if (!s_text(job, root, "source_detail", "source_detail", false, false, SHORT_TEXT_MAX_CHARS,
                &r->source_detail) ||
        !s_text(job, root, "source_reference", "source_reference", false, false,
                SHORT_TEXT_MAX_CHARS, &r->source_reference))
        return false;

    /* deputies: [{"deputy": "<id or code>", "lead": true}, ...] */
    json_t *deps = json_object_get(root, "deputies");
    bool need_deputies = strcmp(r->kind->name, "supervised-case") != 0;
    if (!deps || json_is_null(deps)) {
        if (need_deputies) {
            intake_job_problem(job, 422, "missing_field", "deputies",
                               "The field deputies is required: at least one deputy.",
                               "须列明至少一名代表。");
            return false;
        }
    } else if (!json_is_array(deps)) {
        intake_job_problem(job, 422, "wrong_type", "deputies",
                           "The field deputies must be an array.", "deputies 字段应为数组。");
        return false;
    } else if (json_array_size(deps) == 0 && need_deputies) {
        intake_job_problem(job, 422, "missing_field", "deputies",
                           "The field deputies must name at least one deputy.",
                           "须列明至少一名代表。");
        return false;
    } else if (json_array_size(deps) > DOMAIN_ITEM_MAX_DEPUTIES) {
        intake_job_problemf(job, 422, "too_long", "deputies", "代表人数超过上限。",
                            "At most %d deputies.", DOMAIN_ITEM_MAX_DEPUTIES);
        return false;
    } else {
        size_t i, leads = 0;
        json_t *d;
        json_array_foreach(deps, i, d)
        {
            char field[64], prefix[48];
            snprintf(prefix, sizeof prefix, "deputies[%zu].", i);
            if (!json_is_object(d)) {
                snprintf(field, sizeof field, "deputies[%zu]", i);
                intake_job_problemf(
                    job, 422, "wrong_type", field, "代表须为对象。",
                    "The field %s must be an object {\"deputy\": ..., \"lead\": ...}.", field);
                return false;
            }
            static const char *const dkeys[] = {"deputy", "lead", NULL};
            if (!s_known_keys(job, d, dkeys, prefix))
                return false;
            snprintf(field, sizeof field, "deputies[%zu].deputy", i);
            if (!s_text(job, d, "deputy", field, true, false, 64, &r->deputies[i]))
                return false;
            for (size_t j = 0; j < i; j++)
                if (strcmp(r->deputies[j], r->deputies[i]) == 0) {
                    intake_job_problemf(job, 422, "duplicate_deputy", field, "同一代表重复列出。",
                                        "The deputy %s is named twice.", r->deputies[i]);
                    return false;
                }
            json_t *lead = json_object_get(d, "lead");
            if (lead && !json_is_boolean(lead)) {
                snprintf(field, sizeof field, "deputies[%zu].lead", i);
                intake_job_problemf(job, 422, "wrong_type", field, "lead 应为布尔值。",
                                    "The field %s must be true or false.", field);
                return false;
            }
            r->lead[i] = lead && json_is_true(lead);
            leads += r->lead[i];
        }
        r->n_deputies = json_array_size(deps);
        if (r->n_deputies == 1 && leads == 0)
            r->lead[0] = true; /* one deputy is the lead deputy */
        else if (r->n_deputies > 1 && leads != 1) {
            intake_job_problem(job, 422, "lead_deputy", "deputies",
                               "A joint item names exactly one lead deputy (\"lead\": true).",
                               "联名事项须且只能指定一名领衔代表。");
            return false;
        }
    }

    /* session (Art. 14): required for session items */
    json_t *session = json_object_get(root, "session");
    if (session && !json_is_null(session)) {
        if (!json_is_object(session)) {
            intake_job_problem(job, 422, "wrong_type", "session",
                               "The field session must be an object.", "session 字段应为对象。");
            return false;
        }
        static const char *const skeys[] = {"congress", "term_number", "meeting_number",
                                            "closing_date", NULL};
        if (!s_known_keys(job, session, skeys, "session."))
            return false;
        long long term, meeting;
        const char *closing;
        if (!s_text(job, session, "congress", "session.congress", true, false, SHORT_TEXT_MAX_CHARS,
                    &r->congress) ||
            !s_int(job, session, "term_number", "session.term_number", 1, 1000, &term) ||
            !s_int(job, session, "meeting_number", "session.meeting_number", 1, 1000, &meeting) ||
            !s_text(job, session, "closing_date", "session.closing_date", true, false, 10,
                    &closing))
            return false;
        if (domain_date_parse(closing, &r->closing_date) != 0) {
            intake_job_problem(job, 422, "invalid_value", "session.closing_date",
                               "The closing date must be a date YYYY-MM-DD.",
                               "闭会日期应为 YYYY-MM-DD 格式的日期。");
            return false;
        }
        r->term_number = (int)term;
        r->meeting_number = (int)meeting;
        r->has_session = true;
        r->session = session;
    } else if (r->kind->session) {
        intake_job_problem(
            job, 422, "missing_field", "session",
            "A session item needs its session (congress, term, meeting, closing date).",
            "会议期间的议案、建议须注明所属会议及闭会日期。");
        return false;
    }
    if (!s_text(job, root, "court_role", "court_role", r->kind->session, false, 8, &r->court_role))
        return false;
    if (!r->court_role)
        r->court_role = "lead";
    else if (strcmp(r->court_role, "lead") != 0 && strcmp(r->court_role, "co") != 0) {
        intake_job_problem(job, 422, "invalid_value", "court_role",
                           "The field court_role must be lead (主办) or co (协办).",
                           "court_role 应为 lead（主办）或 co（协办）。");
        return false;
    }
    if (!s_text(job, root, "title", "title", true, false, TITLE_MAX_CHARS, &r->title) ||
        !s_text(job, root, "content", "content", true, true, 0, &r->content) ||
        !s_text(job, root, "late_reason", "late_reason", false, true, 2000, &r->late_reason) ||
        !s_text(job, root, "receiving_department", "receiving_department", false, false, 64,
                &r->department))
        return false;

    const char *received;
    if (!s_text(job, root, "received_at", "received_at", true, false, 40, &received))
        return false;
    if (intake_parse_instant(received, &r->received_us) != 0) {
        intake_job_problem(job, 422, "invalid_value", "received_at",
                           "The received time must be RFC 3339 with an offset, e.g. "
                           "2026-03-02T09:30:00+08:00.",
                           "收到时间应为带时区的 RFC 3339 时间，如 2026-03-02T09:30:00+08:00。");
        return false;
    }
    if (r->received_us > now_us + FUTURE_SKEW_US) {
        intake_job_problem(job, 422, "received_in_future", "received_at",
                           "The received time is in the future.", "收到时间晚于当前时间。");
        return false;
    }

    json_t *att = json_object_get(root, "attachments");
    if (att && !json_is_null(att)) {
        if (!json_is_array(att)) {
            intake_job_problem(job, 422, "wrong_type", "attachments",
                               "The field attachments must be an array.",
                               "attachments 字段应为数组。");
            return false;
        }
        if (json_array_size(att) > ATTACHMENTS_MAX) {
            intake_job_problemf(job, 422, "too_long", "attachments", "附件数量超过上限。",
                                "At most %d attachments.", ATTACHMENTS_MAX);
            return false;
        }
        size_t i;
        json_t *a;
        json_array_foreach(att, i, a)
        {
            char field[64], prefix[48];
            snprintf(prefix, sizeof prefix, "attachments[%zu].", i);
            if (!json_is_object(a)) {
                snprintf(field, sizeof field, "attachments[%zu]", i);
                intake_job_problemf(job, 422, "wrong_type", field, "附件须为对象。",
                                    "The field %s must be an object.", field);
                return false;
            }
            static const char *const akeys[] = {"attachment_id", "filename", "media_type",
                                                "size_bytes",    "sha256",   NULL};
            if (!s_known_keys(job, a, akeys, prefix))
                return false;
            const char *s;
            long long size;
            snprintf(field, sizeof field, "%sattachment_id", prefix);
            if (!s_text(job, a, "attachment_id", field, false, false, 64, &s))
                return false;
            snprintf(field, sizeof field, "%sfilename", prefix);
            if (!s_text(job, a, "filename", field, true, false, 255, &s))
                return false;
            snprintf(field, sizeof field, "%smedia_type", prefix);
            if (!s_text(job, a, "media_type", field, true, false, 127, &s))
                return false;
            snprintf(field, sizeof field, "%ssize_bytes", prefix);
            if (!s_int(job, a, "size_bytes", field, 0, (1LL << 40), &size))
                return false;
            snprintf(field, sizeof field, "%ssha256", prefix);
            if (!s_text(job, a, "sha256", field, true, false, 64, &s))
                return false;
            bool hex = strlen(s) == 64;
            for (const char *p = s; *p && hex; p++)
                hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
            if (!hex) {
                intake_job_problemf(job, 422, "invalid_value", field,
                                    "sha256 应为 64 位小写十六进制。",
                                    "The field %s must be 64 lower-case hex digits.", field);
                return false;
            }
        }
        r->attachments = att;
    }
    return true;
}

/* ---- registration ------------------------------------------------------------------ */

static Liaison__V1__DeputyBody s_body(const char *b)
{
    return strcmp(b, "cppcc") == 0 ? LIAISON__V1__DEPUTY_BODY__DEPUTY_BODY_CPPCC
                                   : LIAISON__V1__DEPUTY_BODY__DEPUTY_BODY_NPC;
}

static Liaison__V1__DeputyLevel s_level(const char *l)
{
    if (strcmp(l, "national") == 0)
        return LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_NATIONAL;
    if (strcmp(l, "provincial") == 0)
        return LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_PROVINCIAL;
    if (strcmp(l, "municipal") == 0)
        return LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_MUNICIPAL;
    return LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_DISTRICT;
}

static Liaison__V1__ActorRole s_actor_role(auth_role_t role)
{
    switch (role) {
    case AUTH_ROLE_LIAISON_OFFICE:
        return LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_LIAISON_OFFICE;
    case AUTH_ROLE_OPERATOR:
        return LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR;
    default:
        return LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM;
    }
}

static Liaison__V1__LocalDate s_local(domain_date_t d)
{
    Liaison__V1__LocalDate l = LIAISON__V1__LOCAL_DATE__INIT;
    l.year = d.year;
    l.month = d.month;
    l.day = d.day;
    return l;
}

/* Pack the ItemRegistered event. *out is the caller's to free. */
static int s_pack_event(const reg_t *r, const intake_principal_t *p, const char *item_id,
                        const char *number, int year, long long serial, json_t *snap,
                        int64_t registered_us, domain_date_t received_date,
                        domain_date_t registered_date, bool late, uint8_t **out, size_t *len)
{
    Liaison__V1__ItemRegistered ev = LIAISON__V1__ITEM_REGISTERED__INIT;
    ev.item_id = (char *)item_id;
    ev.registration_number = (char *)number;
    ev.registration_year = year;
    ev.registration_serial = serial;
    ev.kind = (Liaison__V1__ItemKind)r->kind->proto;
    ev.channel = (Liaison__V1__Channel)r->channel->proto;
    ev.source = (Liaison__V1__Source)r->source->proto;
    ev.source_detail = (char *)(r->source_detail ? r->source_detail : "");
    ev.source_reference = (char *)(r->source_reference ? r->source_reference : "");

    size_t n = json_array_size(snap);
    Liaison__V1__DeputyRef *refs = calloc(n ? n : 1, sizeof *refs);
    Liaison__V1__DeputyRef **refp = calloc(n ? n : 1, sizeof *refp);
    size_t na = json_array_size(r->attachments);
    Liaison__V1__Attachment *atts = calloc(na ? na : 1, sizeof *atts);
    Liaison__V1__Attachment **attp = calloc(na ? na : 1, sizeof *attp);
    int rc = -1;
    if (!refs || !refp || !atts || !attp)
        goto done;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(snap, i);
        liaison__v1__deputy_ref__init(&refs[i]);
        refs[i].deputy_id = (char *)json_string_value(json_object_get(d, "id"));
        refs[i].name = (char *)json_string_value(json_object_get(d, "name"));
        refs[i].lead = json_is_true(json_object_get(d, "lead"));
        refs[i].body = s_body(json_string_value(json_object_get(d, "body")));
        refs[i].level = s_level(json_string_value(json_object_get(d, "level")));
        refp[i] = &refs[i];
    }
    ev.n_deputies = n;
    ev.deputies = refp;

    Liaison__V1__SessionRef session = LIAISON__V1__SESSION_REF__INIT;
    Liaison__V1__LocalDate closing = s_local(r->closing_date);
    if (r->has_session) {
        session.congress = (char *)r->congress;
        session.term_number = r->term_number;
        session.meeting_number = r->meeting_number;
        session.closing_date = &closing;
        ev.session = &session;
    }
    ev.court_role = strcmp(r->court_role, "co") == 0
                        ? LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_CO
                        : LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD;
    ev.title = (char *)r->title;
    ev.content = (char *)r->content;
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(r->attachments, i);
        liaison__v1__attachment__init(&atts[i]);
        const char *aid = json_string_value(json_object_get(a, "attachment_id"));
        atts[i].attachment_id = (char *)(aid ? aid : "");
        atts[i].filename = (char *)json_string_value(json_object_get(a, "filename"));
        atts[i].media_type = (char *)json_string_value(json_object_get(a, "media_type"));
        atts[i].size_bytes = json_integer_value(json_object_get(a, "size_bytes"));
        atts[i].sha256 = (char *)json_string_value(json_object_get(a, "sha256"));
        attp[i] = &atts[i];
    }
    ev.n_attachments = na;
    ev.attachments = attp;
    ev.received_at_us = r->received_us;
    Liaison__V1__LocalDate rd = s_local(received_date), gd = s_local(registered_date);
    ev.received_date = &rd;
    ev.registered_at_us = registered_us;
    ev.registered_date = &gd;
    ev.registered_late = late;
    ev.late_reason = (char *)(late && r->late_reason ? r->late_reason : "");
    Liaison__V1__Actor actor = LIAISON__V1__ACTOR__INIT;
    actor.role = s_actor_role(p->role);
    actor.staff_id = "";
    actor.deputy_id = "";
    actor.name = (char *)auth_role_name(p->role);
    actor.department_id = "";
    ev.registered_by = &actor;
    ev.receiving_department_id = (char *)(r->department ? r->department : "");

    *len = liaison__v1__item_registered__get_packed_size(&ev);
    *out = malloc(*len ? *len : 1);
    if (*out) {
        liaison__v1__item_registered__pack(&ev, *out);
        rc = 0;
    }
done:
    free(refs);
    free(refp);
    free(atts);
    free(attp);
    return rc;
}

/* ---- registration: one, or a batch in one transaction ------------------------------------
 *
 * Group commit. Every registration takes its court's counter row
 * (regnum_counter) and holds its lock to COMMIT, whose WAL flush must end
 * before the answer (synchronous_commit stays on: an acknowledged
 * registration is durable). With one registration per transaction a court
 * registers one item per flush plus a few round trips, while independent
 * inserts elsewhere share their flushes. So the pool hands every
 * registration waiting in its queue to one worker at once
 * (intake_item_register_batch), which registers them in ONE transaction:
 *
 *   1. the checks that need no transaction (token, body, fields, court,
 *      dates), each answering its own request when it refuses;
 *   2. per court: item_reserve_batch() checks each registration (key,
 *      deputies, department) and updates the counter ONCE for all that
 *      passed; here each gets its number, its answer and its event
 *      (packed as bus_publish would write it); item_store_batch() stores the
 *      items and puts the events in the outbox in the same round trip;
 *   3. one COMMIT, one flush, and only then the answers.
 *
 * Why this design (group commit with set-wise statements) rather than only
 * a server-side function per registration: a function would cut the round
 * trips, but each registration would still hold the court's counter
 * through its own flush, one item per flush; batching makes the flush and
 * the counter update per batch, and the batch grows with the load. And why
 * not a savepoint per registration: a refusal inside the transaction
 * writes nothing (item_claim() releases the key it claimed), so there is
 * nothing to roll back; everything else that can go wrong inside is rare
 * and handled by re-running the batch's registrations one by one.
 *
 * What keeps the guarantees:
 *   - gapless numbers: the serials of a batch are taken in its one
 *     transaction, only for registrations that passed every check; any
 *     error after that (database, an exhausted counter) rolls the whole
 *     batch back, and its registrations then run one by one, each exactly
 *     as it would have run alone;
 *   - two requests with the same court and Idempotency-Key never share a
 *     batch (the pool keeps the second for the next one): a retry still
 *     finds its first request committed and replays its answer;
 *   - one batch at a time (the pool), courts in one order: batches never
 *     wait on each other's counter rows.
 */

/* A registration between its checks and its answer. */
typedef struct {
    intake_job_t *job;
    size_t order; /* arrival order within its batch */
    json_t *root; /* the request; r borrows from it */
    reg_t r;
    intake_principal_t p;
    char hash[65]; /* of the canonical request, kept with the Idempotency-Key */
    char zone_name[40], tmpl[256];
    domain_zone_t zone;
    domain_date_t received_date, registered_date;
    bool late;
    int64_t now_us; /* the instant of registration */
    int outcome;    /* reg_outcome_t */
    /* REG_STORED: what to answer once committed */
    json_t *answer;
    char location[160];
    long long serial;
} pending_t;

typedef enum {
    REG_ABORT,         /* roll back: answered (500), or a database error */
    REG_STORED,        /* item, deputies, key and event written; the answer in pd->answer */
    REG_REFUSED,       /* answered (a refusal or a replay); nothing written */
    REG_COURT_CHANGED, /* the court's zone or template changed; nothing written */
} reg_outcome_t;

/* The checks of a request that need no transaction, in the order of the
 * file comment. false when answered. pd->root is the caller's to release
 * either way. */
static bool s_checks(intake_worker_t *w, intake_job_t *job, int64_t now_us, pending_t *pd)
{
    memset(pd, 0, sizeof *pd);
    pd->job = job;
    if (!intake_worker_auth(w, job, &pd->p) ||
        !intake_authorize(job, &pd->p, job->court, INTAKE_ACCESS_REGISTER))
        return false;
    if (!intake_content_type_is(job->content_type, "application/json")) {
        intake_job_problem(job, 415, "unsupported_media_type", "Content-Type",
                           "The body must be application/json.", "请求正文须为 application/json。");
        return false;
    }
    if (!job->body || !domain_utf8_valid(job->body, job->body_len)) {
        intake_job_problem(job, 400, "invalid_utf8", "body", "The body is not valid UTF-8.",
                           "请求正文不是有效的 UTF-8 文本。");
        return false;
    }
    json_error_t err;
    json_t *root = json_loadb(job->body, job->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        if (root)
            intake_job_problem(job, 400, "invalid_json", "body", "The body must be a JSON object.",
                               "请求正文必须是 JSON 对象。");
        else
            intake_job_problemf(job, 400, "invalid_json", "body", "请求正文不是有效的 JSON。",
                                "The body is not valid JSON: %s at line %d, column %d.", err.text,
                                err.line, err.column);
        json_decref(root);
        return false;
    }
    pd->root = root;
    if (!s_validate(job, root, now_us, &pd->r))
        return false;
    char *canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    intake_sha256_hex(canon ? canon : "", canon ? strlen(canon) : 0, pd->hash);
    free(canon);
    return true;
}

/* The court (zone, template) and the dates of Art. 13 at now_us. false
 * when answered. fresh: read the court from the database, not the cache. */
static bool s_court(intake_worker_t *w, pending_t *pd, bool fresh, int64_t now_us)
{
    intake_job_t *job = pd->job;
    int c = intake_worker_court(w, job->court, fresh, pd->zone_name, sizeof pd->zone_name, pd->tmpl,
                                sizeof pd->tmpl);
    if (c == -1) {
        intake_job_problem(job, 404, "unknown_court", "court", "No such court.", "法院不存在。");
        return false;
    }
    if (c != 0) {
        intake_job_problem(job, 503, "database_unavailable", NULL,
                           "The database is unavailable; try again.",
                           "数据库暂不可用，请稍后重试。");
        return false;
    }
    const reg_t *r = &pd->r;
    pd->now_us = now_us;
    if (domain_zone_find(pd->zone_name, &pd->zone) != 0 ||
        domain_zone_local_date(&pd->zone, r->received_us / 1000000 - (r->received_us % 1000000 < 0),
                               &pd->received_date) != 0 ||
        domain_zone_local_date(&pd->zone, now_us / 1000000, &pd->registered_date) != 0) {
        intake_job_problemf(job, 500, "court_misconfigured", "court", "法院时区配置无效。",
                            "The court's time zone %s is not usable.", pd->zone_name);
        return false;
    }
    /* Art. 13: registered the day it is received; later is allowed, but
     * recorded as late, with its reason. */
    pd->late = domain_date_compare(pd->registered_date, pd->received_date) > 0;
    if (pd->late && !r->late_reason) {
        char rd[DOMAIN_DATE_STRLEN], gd[DOMAIN_DATE_STRLEN];
        intake_job_problemf(job, 422, "late_reason_required", "late_reason",
                            "未在收到当日登记，须说明逾期登记的原因（第十三条）。",
                            "Received on %s and registered on %s: a late registration needs "
                            "late_reason (Art. 13).",
                            domain_date_format(pd->received_date, rd),
                            domain_date_format(pd->registered_date, gd));
        return false;
    }
    return true;
}

/* A registration item_reserve_batch() did not pass: answer it. */
static reg_outcome_t s_refusal(pending_t *pd, const char *status, const char *detail_text)
{
    intake_job_t *job = pd->job;
    const reg_t *r = &pd->r;
    json_t *detail = json_loads(detail_text, 0, NULL);
    reg_outcome_t t = REG_REFUSED;
    if (strcmp(status, "replay") == 0) {
        json_t *resp = json_object_get(detail, "response");
        intake_job_answer(job, (unsigned)json_integer_value(json_object_get(detail, "status")),
                          json_incref(resp));
        job->replayed = true;
    } else if (strcmp(status, "key_conflict") == 0) {
        intake_job_problem(job, 409, "idempotency_key_reused", "Idempotency-Key",
                           "This Idempotency-Key was used with another request body.",
                           "该幂等键已用于另一不同的请求。");
    } else if (strcmp(status, "unknown_court") == 0) {
        intake_job_problem(job, 404, "unknown_court", "court", "No such court.", "法院不存在。");
    } else if (strcmp(status, "court_changed") == 0) {
        t = REG_COURT_CHANGED;
    } else if (strcmp(status, "unknown_deputy") == 0 || strcmp(status, "deputy_term_ended") == 0) {
        long long i = json_integer_value(json_object_get(detail, "index"));
        char field[64];
        snprintf(field, sizeof field, "deputies[%lld].deputy", i);
        if (status[0] == 'u')
            intake_job_problemf(job, 422, "unknown_deputy", field, "该代表不在本院代表名册中。",
                                "The deputy %s is not on this court's roster.",
                                i >= 0 && (size_t)i < r->n_deputies ? r->deputies[i] : "?");
        else
            intake_job_problemf(job, 422, "deputy_term_ended", field,
                                "该代表的任期已终止（任期结束于收到日之前）。",
                                "The term of deputy %s has ended.",
                                i >= 0 && (size_t)i < r->n_deputies ? r->deputies[i] : "?");
    } else if (strcmp(status, "unknown_department") == 0) {
        intake_job_problem(job, 422, "unknown_department", "receiving_department",
                           "No such active department in this court.", "本院无此部门。");
    } else {
        intake_job_problem(job, 500, "internal_error", NULL, "Unexpected reservation status.",
                           "服务器内部错误。");
        t = REG_ABORT;
    }
    json_decref(detail);
    return t;
}

/* A registration that passed, with its serial and its deputies as they
 * are on the roster (snap, consumed): its number, its answer, and its rows
 * for item_store_batch(): the item appended to items, its event to events.
 * false when the transaction must roll back (answered 500, or out of
 * memory). */
static bool s_register_item(pending_t *pd, long long serial, json_t *snap, json_t *items,
                            json_t *events)
{
    intake_job_t *job = pd->job;
    const reg_t *r = &pd->r;
    if (!snap || serial <= 0 || serial > DOMAIN_REGNUM_MAX_SEQ) {
        json_decref(snap);
        intake_job_problem(job, 500, "internal_error", NULL,
                           "The registration counter is exhausted.", "登记编号已用尽。");
        return false;
    }
    for (size_t i = 0; i < json_array_size(snap) && i < r->n_deputies; i++)
        json_object_set_new(json_array_get(snap, i), "lead", json_boolean(r->lead[i]));

    char number[DOMAIN_REGNUM_MAX];
    if (domain_regnum_render(pd->tmpl, pd->registered_date.year, (uint32_t)serial, number,
                             sizeof number) != 0) {
        json_decref(snap);
        intake_job_problem(job, 500, "court_misconfigured", "court",
                           "The court's registration number template is not usable.",
                           "法院登记编号格式无效。");
        return false;
    }

    char item_id[37], received_s[48], registered_s[48];
    char rdate_s[DOMAIN_DATE_STRLEN], gdate_s[DOMAIN_DATE_STRLEN];
    bus_uuid7(item_id);
    intake_format_instant(r->received_us, pd->zone.utc_offset_s, received_s, sizeof received_s);
    intake_format_instant(pd->now_us, pd->zone.utc_offset_s, registered_s, sizeof registered_s);
    domain_date_format(pd->received_date, rdate_s);
    domain_date_format(pd->registered_date, gdate_s);

    json_t *answer =
        json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:b}", "item_id", item_id, "court",
                  job->court, "registration_number", number, "registration_year",
                  pd->registered_date.year, "registration_serial", (json_int_t)serial,
                  "received_at", received_s, "received_date", rdate_s, "registered_at",
                  registered_s, "registered_date", gdate_s, "registered_late", pd->late);
    if (answer && pd->late)
        json_object_set_new(answer, "late_reason", json_string(r->late_reason));
    json_t *by =
        json_pack("{s:s, s:s}", "role", auth_role_name(pd->p.role), "token", pd->p.token_hash);
    if (by && pd->p.department[0])
        json_object_set_new(by, "department", json_string(pd->p.department));

    /* the row for item_store_batch() */
    json_t *row = json_object();
    json_object_set_new(row, "item_id", json_string(item_id));
    json_object_set_new(row, "registration_number", json_string(number));
    json_object_set_new(row, "registration_year", json_integer(pd->registered_date.year));
    json_object_set_new(row, "registration_serial", json_integer(serial));
    json_object_set_new(row, "kind", json_string(r->kind->name));
    json_object_set_new(row, "domain_kind", json_string(r->kind->domain));
    json_object_set_new(row, "channel", json_string(r->channel->name));
    json_object_set_new(row, "source", json_string(r->source->name));
    json_object_set_new(row, "source_detail",
                        json_string(r->source_detail ? r->source_detail : ""));
    json_object_set_new(row, "source_reference",
                        json_string(r->source_reference ? r->source_reference : ""));
    json_object_set_new(row, "court_role", json_string(r->court_role));
    if (r->has_session)
        json_object_set(row, "session", r->session);
    json_object_set_new(row, "title", json_string(r->title));
    json_object_set_new(row, "content", json_string(r->content));
    json_object_set_new(row, "attachments",
                        r->attachments ? json_incref(r->attachments) : json_array());
    if (r->department)
        json_object_set_new(row, "receiving_department", json_string(r->department));
    json_object_set_new(row, "received_us", json_integer(r->received_us));
    json_object_set_new(row, "received_date", json_string(rdate_s));
    json_object_set_new(row, "registered_us", json_integer(pd->now_us));
    json_object_set_new(row, "registered_date", json_string(gdate_s));
    json_object_set_new(row, "registered_late", json_boolean(pd->late));
    if (pd->late)
        json_object_set_new(row, "late_reason", json_string(r->late_reason));
    json_object_set_new(row, "registered_by", by);
    if (job->idem_key)
        json_object_set_new(row, "idempotency_key", json_string(job->idem_key));
    json_object_set(row, "response", answer);
    json_object_set(row, "deputies", snap);
    bool ok = answer && by;
    if (ok)
        ok = json_array_append_new(items, row) == 0;
    else
        json_decref(row);

    /* its one ItemRegistered event, into the outbox with the item */
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (ok)
        ok = s_pack_event(r, &pd->p, item_id, number, pd->registered_date.year, serial, snap,
                          pd->now_us, pd->received_date, pd->registered_date, pd->late, &payload,
                          &plen) == 0 &&
             json_array_append_new(events, s_outbox_row("liaison.v1.ItemRegistered", job->court,
                                                        item_id, payload, plen)) == 0;
    free(payload);
    json_decref(snap);
    if (!ok) {
        json_decref(answer);
        return false;
    }
    pd->answer = answer;
    snprintf(pd->location, sizeof pd->location, "/v1/courts/%s/items/%s", job->court, item_id);
    pd->outcome = REG_STORED;
    pd->serial = serial;
    return true;
}

/* The requests of a court's group for item_reserve_batch(), as JSON (the
 * caller frees), or NULL when out of memory. */
static char *s_reserve_requests(const pending_t *pds, size_t m)
{
    json_t *reqs = json_array();
    for (size_t i = 0; i < m; i++) {
        const reg_t *r = &pds[i].r;
        char rdate[DOMAIN_DATE_STRLEN];
        json_t *deps = json_array();
        for (size_t j = 0; j < r->n_deputies; j++)
            json_array_append_new(deps, json_string(r->deputies[j]));
        json_array_append_new(reqs,
                              json_pack("{s:s?, s:s, s:o, s:s, s:s?}", "key", pds[i].job->idem_key,
                                        "hash", pds[i].hash, "deputies", deps, "received",
                                        domain_date_format(pds[i].received_date, rdate),
                                        "department", r->department));
    }
    char *text = json_dumps(reqs, JSON_COMPACT);
    json_decref(reqs);
    return text;
}

/* The answer of item_reserve_batch() for a court's group (pds[0..m)):
 * each refusal answered, each registration that passed numbered, with its
 * rows for item_store_batch(). false when the transaction must roll back. */
static bool s_reserved(pending_t *pds, size_t m, PGresult *res, json_t *items, json_t *events)
{
    if (PQntuples(res) != (int)m) {
        log_error("intake: item_reserve_batch answered the wrong number of rows",
                  "rows=%d want=%zu", PQntuples(res), m);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < m; i++) {
        const char *status = PQgetvalue(res, (int)i, 0);
        if (strcmp(status, "ok") != 0) {
            pds[i].outcome = s_refusal(&pds[i], status, PQgetvalue(res, (int)i, 2));
            ok = pds[i].outcome != REG_ABORT;
        } else {
            ok = s_register_item(&pds[i], atoll(PQgetvalue(res, (int)i, 1)),
                                 json_loads(PQgetvalue(res, (int)i, 2), 0, NULL), items, events);
        }
    }
    return ok;
}

/* Registrations that share a court's counter call: the same court, zone,
 * template and year. */
static bool s_same_group(const pending_t *a, const pending_t *b)
{
    return strcmp(a->job->court, b->job->court) == 0 && strcmp(a->zone_name, b->zone_name) == 0 &&
           strcmp(a->tmpl, b->tmpl) == 0 && a->registered_date.year == b->registered_date.year;
}

/* A group of registrations in the transaction: pds[first .. first+count). */
typedef struct {
    size_t first, count;
    char year[8];
    char *requests;         /* for item_reserve_batch() */
    json_t *items, *events; /* for item_store_batch() */
    char *items_text, *events_text;
} group_t;

static void s_groups_free(group_t *groups, size_t ng)
{
    for (size_t k = 0; groups && k < ng; k++) {
        free(groups[k].requests);
        json_decref(groups[k].items);
        json_decref(groups[k].events);
        free(groups[k].items_text);
        free(groups[k].events_text);
    }
    free(groups);
}

/* One transaction for pds[0..m), sorted by court, in two round trips
 * (pipelines): BEGIN and each group's item_reserve_batch(); each group's
 * item_store_batch() (items and events) and COMMIT. false when it did not
 * commit (the caller rolls back); then no outcome counts. */
static bool s_run(intake_worker_t *w, pending_t *pds, size_t m, char sqlstate[6])
{
    PGconn *conn = intake_worker_conn(w);
    sqlstate[0] = '\0';
    for (size_t i = 0; i < m; i++)
        pds[i].outcome = REG_ABORT;
    group_t *groups = calloc(m, sizeof *groups);
    intake_stmt_t *stmts = calloc(m + 1, sizeof *stmts);
    const char **params = calloc(5 * m, sizeof *params);
    PGresult **res = calloc(m + 1, sizeof *res);
    size_t ng = 0;
    bool ok = groups && stmts && params && res;
    for (size_t i = 0, j; ok && i < m; i = j) {
        for (j = i + 1; j < m && s_same_group(&pds[i], &pds[j]); j++)
            ;
        group_t *g = &groups[ng++];
        g->first = i;
        g->count = j - i;
        snprintf(g->year, sizeof g->year, "%d", pds[i].registered_date.year);
        g->requests = s_reserve_requests(pds + i, j - i);
        g->items = json_array();
        g->events = json_array();
        ok = g->requests && g->items && g->events;
    }

    /* 1. BEGIN, and each court's checks and serials (every function binds
     * its transaction to its court itself: liaison.court) */
    if (ok) {
        stmts[0] = (intake_stmt_t){"BEGIN", 0, NULL};
        for (size_t k = 0; k < ng; k++) {
            const char **p = params + 5 * k;
            const pending_t *first = &pds[groups[k].first];
            p[0] = first->job->court;
            p[1] = first->zone_name;
            p[2] = first->tmpl;
            p[3] = groups[k].year;
            p[4] = groups[k].requests;
            stmts[k + 1] = (intake_stmt_t){"SELECT status, serial, detail FROM "
                                           "item_reserve_batch($1, $2, $3, $4::int, $5::jsonb)",
                                           5, p};
        }
        ok = intake_sql_pipeline(conn, ng + 1, stmts, res, sqlstate) == 0;
    }
    /* 2. numbers, answers, events */
    for (size_t k = 0; ok && k < ng; k++)
        ok = s_reserved(pds + groups[k].first, groups[k].count, res[k + 1], groups[k].items,
                        groups[k].events);
    for (size_t k = 0; res && k < ng + 1; k++) {
        PQclear(res[k]);
        res[k] = NULL;
    }
    /* 3. the items of each court, and COMMIT */
    if (ok) {
        size_t ns = 0;
        for (size_t k = 0; ok && k < ng; k++) {
            if (json_array_size(groups[k].items) == 0)
                continue;
            groups[k].items_text = json_dumps(groups[k].items, JSON_COMPACT);
            groups[k].events_text = json_dumps(groups[k].events, JSON_COMPACT);
            const char **p = params + 5 * k;
            p[0] = pds[groups[k].first].job->court;
            p[1] = groups[k].items_text;
            p[2] = groups[k].events_text;
            stmts[ns++] =
                (intake_stmt_t){"SELECT item_store_batch($1, $2::jsonb, $3::jsonb)", 3, p};
            ok = groups[k].items_text && groups[k].events_text;
        }
        stmts[ns++] = (intake_stmt_t){"COMMIT", 0, NULL};
        /* COMMIT of a failed transaction answers ROLLBACK, not an error */
        ok = ok && intake_sql_pipeline(conn, ns, stmts, res, sqlstate) == 0 &&
             strcmp(PQcmdStatus(res[ns - 1]), "COMMIT") == 0;
        for (size_t k = 0; k < ns; k++)
            PQclear(res[k]);
    }
    /* The counters as this commit left them: each court's row was locked
     * from its update to COMMIT, so its last serial is this group's last. */
    for (size_t k = 0; ok && k < ng; k++) {
        long long last = 0;
        for (size_t i = groups[k].first; i < groups[k].first + groups[k].count; i++)
            if (pds[i].outcome == REG_STORED && pds[i].serial > last)
                last = pds[i].serial;
        if (last > 0)
            intake_worker_serial_set(w, pds[groups[k].first].job->court,
                                     pds[groups[k].first].registered_date.year, last);
    }
    s_groups_free(groups, ng);
    free(stmts);
    free(params);
    free(res);
    return ok;
}

/* ---- numbered ahead: one round trip ------------------------------------------------
 *
 * The two-step batch above holds the court's counter from its first round
 * trip to its COMMIT, across the daemon's own work in between. When this
 * daemon committed the court's counter last, it knows where the counter
 * stands and which deputies the roster has (its cache), so it numbers the
 * batch itself, builds the items and events, and sends BEGIN, one
 * item_register_numbered() per court and COMMIT at once
 * (deploy/sql/intake/008_register_numbered.sql). That function moves the
 * counter only from the value the daemon expected and raises on anything
 * the daemon could not foresee (a refusal, a replay, a changed roster entry
 * or court, another writer); the whole transaction then rolls back and the
 * batch runs the two-step way, which answers each registration as before
 * and tells the daemon the counter again. */

typedef enum {
    NUMBERED_NOT_TRIED, /* a counter or a deputy not known: nothing sent */
    NUMBERED_COMMITTED,
    NUMBERED_ROLLED_BACK, /* nothing stored, nothing answered */
} numbered_t;

static void s_job_reset(intake_job_t *job);

/* The roster entries of a registration's deputies, from the cache, as a
 * JSON array; NULL when one is not known. */
static json_t *s_snapshot(intake_worker_t *w, const pending_t *pd)
{
    json_t *snap = json_array();
    char text[INTAKE_SNAPSHOT_MAX];
    for (size_t j = 0; snap && j < pd->r.n_deputies; j++) {
        json_t *d = NULL;
        if (intake_worker_deputy(w, pd->job->court, pd->r.deputies[j], text, sizeof text) == 0)
            d = json_loads(text, 0, NULL);
        if (!d || json_array_append_new(snap, d) != 0) {
            json_decref(snap);
            snap = NULL;
        }
    }
    return snap;
}

static numbered_t s_run_numbered(intake_worker_t *w, pending_t *pds, size_t m)
{
    group_t *groups = calloc(m, sizeof *groups);
    long long *expected = calloc(m, sizeof *expected);
    char(*expected_s)[24] = calloc(m, sizeof *expected_s);
    intake_stmt_t *stmts = calloc(m + 2, sizeof *stmts);
    const char **params = calloc(8 * m, sizeof *params);
    PGresult **res = calloc(m + 2, sizeof *res);
    numbered_t outcome = NUMBERED_NOT_TRIED;
    size_t ng = 0;
    bool ok = groups && expected && expected_s && stmts && params && res;
    for (size_t i = 0; i < m; i++)
        pds[i].outcome = REG_ABORT;
    for (size_t i = 0, j; ok && i < m; i = j) {
        for (j = i + 1; j < m && s_same_group(&pds[i], &pds[j]); j++)
            ;
        group_t *g = &groups[ng];
        g->first = i;
        g->count = j - i;
        snprintf(g->year, sizeof g->year, "%d", pds[i].registered_date.year);
        ok = intake_worker_serial_take(w, pds[i].job->court, pds[i].registered_date.year,
                                       (long long)g->count, &expected[ng]) &&
             expected[ng] + (long long)g->count <= DOMAIN_REGNUM_MAX_SEQ;
        snprintf(expected_s[ng], sizeof expected_s[ng], "%lld", expected[ng]);
        ng++;
    }
    /* numbers, answers, events; and the requests with their roster entries */
    for (size_t k = 0; ok && k < ng; k++) {
        group_t *g = &groups[k];
        json_t *reqs = json_array();
        g->items = json_array();
        g->events = json_array();
        ok = reqs && g->items && g->events;
        for (size_t i = g->first; ok && i < g->first + g->count; i++) {
            pending_t *pd = &pds[i];
            json_t *snap = s_snapshot(w, pd);
            char rdate[DOMAIN_DATE_STRLEN];
            json_t *req = snap ? json_pack("{s:s?, s:s, s:[], s:s, s:s?, s:O}", "key",
                                           pd->job->idem_key, "hash", pd->hash, "deputies",
                                           "received", domain_date_format(pd->received_date, rdate),
                                           "department", pd->r.department, "snapshot", snap)
                               : NULL;
            json_t *deps = req ? json_object_get(req, "deputies") : NULL;
            for (size_t j = 0; deps && j < pd->r.n_deputies; j++)
                json_array_append_new(deps, json_string(pd->r.deputies[j]));
            long long serial = expected[k] + (long long)(i - g->first) + 1;
            ok = req && json_array_append_new(reqs, req) == 0 &&
                 s_register_item(pd, serial, json_deep_copy(snap), g->items, g->events);
            json_decref(snap);
        }
        if (ok) {
            g->requests = json_dumps(reqs, JSON_COMPACT);
            g->items_text = json_dumps(g->items, JSON_COMPACT);
            g->events_text = json_dumps(g->events, JSON_COMPACT);
            ok = g->requests && g->items_text && g->events_text;
        }
        json_decref(reqs);
    }
    char sqlstate[6] = "";
    if (ok) {
        outcome = NUMBERED_ROLLED_BACK;
        size_t ns = 0;
        stmts[ns++] = (intake_stmt_t){"BEGIN", 0, NULL};
        for (size_t k = 0; k < ng; k++) {
            const pending_t *first = &pds[groups[k].first];
            const char **p = params + 8 * k;
            p[0] = first->job->court;
            p[1] = first->zone_name;
            p[2] = first->tmpl;
            p[3] = groups[k].year;
            p[4] = expected_s[k];
            p[5] = groups[k].requests;
            p[6] = groups[k].items_text;
            p[7] = groups[k].events_text;
            stmts[ns++] = (intake_stmt_t){"SELECT item_register_numbered($1, $2, $3, $4::int, "
                                          "$5::bigint, $6::jsonb, $7::jsonb, $8::jsonb)",
                                          8, p};
        }
        stmts[ns++] = (intake_stmt_t){"COMMIT", 0, NULL};
        /* COMMIT of a failed transaction answers ROLLBACK, not an error */
        if (intake_sql_pipeline(intake_worker_conn(w), ns, stmts, res, sqlstate) == 0 &&
            strcmp(PQcmdStatus(res[ns - 1]), "COMMIT") == 0)
            outcome = NUMBERED_COMMITTED;
        for (size_t k = 0; k < ns; k++)
            PQclear(res[k]);
    }
    if (outcome != NUMBERED_COMMITTED) {
        if (outcome == NUMBERED_ROLLED_BACK) {
            intake_sql_rollback(intake_worker_conn(w));
            log_debug("intake: numbered batch rolled back; registering it in two steps",
                      "size=%zu sqlstate=%s", m, sqlstate[0] ? sqlstate : "none");
        }
        /* what the two steps will learn again */
        for (size_t k = 0; k < ng; k++)
            intake_worker_serial_set(w, pds[groups[k].first].job->court,
                                     pds[groups[k].first].registered_date.year, -1);
        for (size_t i = 0; i < m; i++) {
            json_decref(pds[i].answer);
            pds[i].answer = NULL;
            pds[i].outcome = REG_ABORT;
            s_job_reset(pds[i].job);
        }
        if (ok || outcome == NUMBERED_ROLLED_BACK)
            outcome = NUMBERED_ROLLED_BACK;
    }
    s_groups_free(groups, ng);
    free(expected);
    free(expected_s);
    free(stmts);
    free(params);
    free(res);
    return outcome;
}

/* Answer a registration whose transaction committed. */
static void s_answer_stored(pending_t *pd)
{
    pd->job->published = true;
    pd->job->location = strdup(pd->location);
    intake_job_answer(pd->job, 201, pd->answer);
    pd->answer = NULL;
}

/* One registration in its own transaction, run again on a serialization
 * failure or a deadlock and when the court changed under it. */
static void s_register_one(intake_worker_t *w, pending_t *pd, bool fresh)
{
    intake_job_t *job = pd->job;
    for (int attempt = 0; attempt < RETRIES + 1; attempt++) {
        if (!s_court(w, pd, fresh, clock_now_us(intake_worker_clock(w))))
            return;
        char sqlstate[6];
        bool committed = s_run(w, pd, 1, sqlstate);
        if (!committed)
            intake_sql_rollback(intake_worker_conn(w));
        if (committed && pd->outcome == REG_STORED) {
            s_answer_stored(pd);
            return;
        }
        json_decref(pd->answer);
        pd->answer = NULL;
        if (job->status)
            return; /* answered: a refusal, a replay or a misconfigured court */
        fresh = committed && pd->outcome == REG_COURT_CHANGED;
        if (!fresh && strncmp(sqlstate, "40", 2) != 0) {
            intake_job_problem(job, 503, "database_unavailable", NULL,
                               "The registration could not be stored; nothing was registered. Try "
                               "again.",
                               "登记未能保存，未产生任何记录，请重试。");
            return;
        }
        /* a serialization failure or a deadlock, or the court changed: again */
    }
    intake_job_problem(job, 503, "conflict_retry", NULL,
                       "The registration kept conflicting; nothing was registered. Try again.",
                       "登记冲突，未产生任何记录，请重试。");
}

void intake_item_register(intake_worker_t *w, intake_job_t *job)
{
    pending_t pd;
    if (s_checks(w, job, clock_now_us(intake_worker_clock(w)), &pd))
        s_register_one(w, &pd, false);
    json_decref(pd.root);
}

/* Forget what a registration answered inside a batch that rolled back. */
static void s_job_reset(intake_job_t *job)
{
    json_decref(job->answer);
    job->answer = NULL;
    job->status = 0;
    job->replayed = false;
    job->published = false;
    free(job->location);
    job->location = NULL;
}

/* Courts in one order (no two batches wait on each other's counters), and
 * within a court the order of arrival (the order of the numbers). */
static int s_by_court(const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    int c = strcmp(x->job->court, y->job->court);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

void intake_item_register_batch(intake_worker_t *w, intake_job_t **jobs, size_t n)
{
    pending_t *pds = calloc(n, sizeof *pds);
    if (!pds) {
        for (size_t i = 0; i < n; i++)
            intake_item_register(w, jobs[i]);
        return;
    }
    /* one instant for the batch: its items are registered together */
    int64_t now_us = clock_now_us(intake_worker_clock(w));
    int64_t t0 = clock_mono_us();
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        pending_t *pd = &pds[m];
        if (s_checks(w, jobs[i], now_us, pd) && s_court(w, pd, false, now_us)) {
            pd->order = m++;
        } else {
            json_decref(pd->root); /* answered: a refusal of this request alone */
            pd->root = NULL;
        }
    }
    if (m == 0) {
        free(pds);
        return;
    }
    qsort(pds, m, sizeof *pds, s_by_court);
    int64_t t1 = clock_mono_us();
    char sqlstate[6] = "";
    numbered_t numbered = s_run_numbered(w, pds, m);
    bool committed = numbered == NUMBERED_COMMITTED;
    if (!committed) {
        committed = s_run(w, pds, m, sqlstate);
        if (!committed) {
            intake_sql_rollback(intake_worker_conn(w));
            log_warn("intake: a batch of registrations rolled back; registering them one by one",
                     "size=%zu sqlstate=%s", m, sqlstate[0] ? sqlstate : "none");
        }
    }
    log_debug("intake: batch of registrations",
              "jobs=%zu checked=%zu committed=%d numbered=%d checks_us=%lld "
              "transaction_us=%lld",
              n, m, committed, numbered == NUMBERED_COMMITTED, (long long)(t1 - t0),
              (long long)(clock_mono_us() - t1));
    for (size_t i = 0; i < m; i++) {
        pending_t *pd = &pds[i];
        if (committed && pd->outcome == REG_STORED) {
            s_answer_stored(pd);
        } else if (!committed || pd->outcome == REG_COURT_CHANGED) {
            /* rare: run it alone, exactly as if it had come by itself */
            json_decref(pd->answer);
            pd->answer = NULL;
            s_job_reset(pd->job);
            s_register_one(w, pd, committed);
        }
        json_decref(pd->root);
    }
    free(pds);
}

/* ---- reading ------------------------------------------------------------------------ */

/* The JSON of an item, built by Postgres (timestamps in the court's zone,
 * set by the caller with SET LOCAL TimeZone). */
#define ITEM_JSON                                                                                  \
    "jsonb_build_object('item_id', i.item_id, 'court', i.court_id, "                               \
    "'registration_number', i.registration_number, 'registration_year', i.registration_year, "     \
    "'registration_serial', i.registration_serial, 'kind', i.kind, 'domain_kind', i.domain_kind, " \
    "'channel', i.channel, 'source', i.source, 'source_detail', i.source_detail, "                 \
    "'source_reference', i.source_reference, 'court_role', i.court_role, 'session', i.session, "   \
    "'title', i.title, 'received_at', i.received_at, 'received_date', i.received_date, "           \
    "'registered_at', i.registered_at, 'registered_date', i.registered_date, "                     \
    "'registered_late', i.registered_late, 'late_reason', i.late_reason, "                         \
    "'receiving_department', i.receiving_department_code, "                                        \
    "'deputies', (SELECT coalesce(jsonb_agg(jsonb_build_object('deputy_id', d.deputy_id, "         \
    "  'code', dp.code, 'name', d.name, 'lead', d.lead) ORDER BY d.position), '[]') "              \
    "  FROM item_deputy d JOIN deputy dp ON dp.id = d.deputy_id WHERE d.item_id = i.item_id))"

static bool s_read_begin(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_READ))
        return false;
    char zone[40], tmpl[256];
    int c = intake_worker_court(w, job->court, false, zone, sizeof zone, tmpl, sizeof tmpl);
    if (c == -1) {
        intake_job_problem(job, 404, "unknown_court", "court", "No such court.", "法院不存在。");
        return false;
    }
    PGconn *conn = intake_worker_conn(w);
    const char *zp[1] = {zone};
    PGresult *res = NULL;
    if (c == 0 && intake_sql_begin(conn, job->court) == 0)
        res = intake_sql(conn, "SELECT set_config('TimeZone', $1, true)", 1, zp, NULL);
    if (!res) {
        intake_sql_rollback(conn);
        intake_job_problem(job, 503, "database_unavailable", NULL,
                           "The database is unavailable; try again.",
                           "数据库暂不可用，请稍后重试。");
        return false;
    }
    PQclear(res);
    return true;
}

void intake_item_get(intake_worker_t *w, intake_job_t *job)
{
    if (!bus_uuid_valid(job->id)) {
        intake_job_problem(job, 404, "unknown_item", "id", "No such item.", "办理事项不存在。");
        return;
    }
    if (!s_read_begin(w, job))
        return;
    PGconn *conn = intake_worker_conn(w);
    const char *p[2] = {job->court, job->id};
    PGresult *res = intake_sql(conn,
                               "SELECT (" ITEM_JSON " || jsonb_build_object('content', i.content, "
                               "'attachments', i.attachments))::text "
                               "FROM item i WHERE i.court_id = $1 AND i.item_id = $2::uuid",
                               2, p, NULL);
    intake_sql_rollback(conn);
    if (!res) {
        intake_job_problem(job, 503, "database_unavailable", NULL,
                           "The database is unavailable; try again.",
                           "数据库暂不可用，请稍后重试。");
        return;
    }
    if (PQntuples(res) == 0)
        intake_job_problem(job, 404, "unknown_item", "id", "No such item.", "办理事项不存在。");
    else
        intake_job_answer(job, 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL));
    PQclear(res);
}

static const char *s_query(intake_job_t *job, const char *name)
{
    return json_string_value(json_object_get(job->query, name));
}

void intake_item_list(intake_worker_t *w, intake_job_t *job)
{
    /* filters: validated before any database work */
    const char *kind = s_query(job, "kind"), *channel = s_query(job, "channel"),
               *source = s_query(job, "source"), *deputy = s_query(job, "deputy"),
               *from = s_query(job, "received_from"), *to = s_query(job, "received_to"),
               *late = s_query(job, "late"), *limit_s = s_query(job, "limit"),
               *cursor = s_query(job, "cursor"), *year = s_query(job, "year");
    domain_date_t d;
    if (kind && !s_vocab_find(s_kinds, kind)) {
        intake_job_problem(job, 400, "invalid_query", "kind", "Unknown kind.", "未知的事项种类。");
        return;
    }
    if (channel && !s_vocab_find(s_channels, channel)) {
        intake_job_problem(job, 400, "invalid_query", "channel", "Unknown channel.",
                           "未知的渠道。");
        return;
    }
    if (source && !s_vocab_find(s_sources, source)) {
        intake_job_problem(job, 400, "invalid_query", "source", "Unknown source.", "未知的来源。");
        return;
    }
    if ((from && domain_date_parse(from, &d) != 0) || (to && domain_date_parse(to, &d) != 0)) {
        intake_job_problem(job, 400, "invalid_query",
                           from && domain_date_parse(from, &d) ? "received_from" : "received_to",
                           "Dates are YYYY-MM-DD.", "日期格式应为 YYYY-MM-DD。");
        return;
    }
    if (late && strcmp(late, "true") != 0 && strcmp(late, "false") != 0) {
        intake_job_problem(job, 400, "invalid_query", "late", "late is true or false.",
                           "late 应为 true 或 false。");
        return;
    }
    long limit = 50;
    if (limit_s) {
        char *end;
        limit = strtol(limit_s, &end, 10);
        if (*end || limit < 1 || limit > 500) {
            intake_job_problem(job, 400, "invalid_query", "limit", "limit is from 1 to 500.",
                               "limit 取值为 1 至 500。");
            return;
        }
    }
    if (year) {
        char *end;
        long y = strtol(year, &end, 10);
        if (*end || y < DOMAIN_DATE_MIN_YEAR || y > DOMAIN_DATE_MAX_YEAR) {
            intake_job_problem(job, 400, "invalid_query", "year", "year is a year such as 2026.",
                               "year 应为年份，如 2026。");
            return;
        }
    }
    /* cursor: "<registered_at µs>_<item uuid>" of the last item of a page */
    char cur_us[24] = "", cur_id[37] = "";
    if (cursor) {
        const char *us = strchr(cursor, '_');
        long long v;
        char *end;
        if (!us || us - cursor > 20 || !bus_uuid_valid(us + 1) ||
            (v = strtoll(cursor, &end, 10), end != us)) {
            intake_job_problem(job, 400, "invalid_query", "cursor",
                               "The cursor is not one this "
                               "service gave.",
                               "分页游标无效。");
            return;
        }
        snprintf(cur_us, sizeof cur_us, "%lld", v);
        snprintf(cur_id, sizeof cur_id, "%s", us + 1);
    }
    if (!s_read_begin(w, job))
        return;
    char limit_p[16];
    snprintf(limit_p, sizeof limit_p, "%ld", limit + 1);
    const char *p[12] = {job->court,
                         kind,
                         channel,
                         source,
                         deputy,
                         from,
                         to,
                         late,
                         year,
                         cur_us[0] ? cur_us : NULL,
                         cur_id[0] ? cur_id : NULL,
                         limit_p};
    PGconn *conn = intake_worker_conn(w);
    PGresult *res = intake_sql(
        conn,
        "SELECT " ITEM_JSON "::text, (extract(epoch FROM i.registered_at) * 1000000)::bigint, "
        "  i.item_id FROM item i "
        "WHERE i.court_id = $1 AND ($2::text IS NULL OR i.kind = $2) "
        "  AND ($3::text IS NULL OR i.channel = $3) AND ($4::text IS NULL OR i.source = $4) "
        "  AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM item_deputy x JOIN deputy y ON y.id = "
        "    x.deputy_id WHERE x.item_id = i.item_id AND (y.code = $5 OR y.id::text = lower($5)))) "
        "  AND ($6::date IS NULL OR i.received_date >= $6::date) "
        "  AND ($7::date IS NULL OR i.received_date <= $7::date) "
        "  AND ($8::boolean IS NULL OR i.registered_late = $8::boolean) "
        "  AND ($9::int IS NULL OR i.registration_year = $9::int) "
        "  AND ($10::bigint IS NULL OR (i.registered_at, i.item_id) < "
        "    ('epoch'::timestamptz + $10::bigint * interval '1 microsecond', $11::uuid)) "
        "ORDER BY i.registered_at DESC, i.item_id DESC LIMIT $12::int",
        12, p, NULL);
    intake_sql_rollback(conn);
    if (!res) {
        intake_job_problem(job, 503, "database_unavailable", NULL,
                           "The database is unavailable; try again.",
                           "数据库暂不可用，请稍后重试。");
        return;
    }
    json_t *items = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
    json_t *out = json_pack("{s:o}", "items", items);
    if (n > limit) {
        char next[80];
        snprintf(next, sizeof next, "%s_%s", PQgetvalue(res, (int)limit - 1, 1),
                 PQgetvalue(res, (int)limit - 1, 2));
        json_object_set_new(out, "next_cursor", json_string(next));
    } else {
        json_object_set_new(out, "next_cursor", json_null());
    }
    PQclear(res);
    intake_job_answer(job, 200, out);
}
