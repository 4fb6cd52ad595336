/* intake_item — registering items (登记, Art. 13), reading them back.
 *
 *   POST /v1/courts/{court}/items        register (Idempotency-Key honoured)
 *   GET  /v1/courts/{court}/items/{id}   one item
 *   GET  /v1/courts/{court}/items        list, filters and keyset paging
 *
 * A registration runs on a worker in this order, so that the cheapest
 * refusal comes first and nothing is stored or published unless every
 * check passed: token → role and court → Content-Type → UTF-8 → JSON →
 * fields → court (zone, template) → dates (late needs a reason) → one
 * transaction: item_reserve() (idempotency key, deputies on the court's
 * roster and serving, next serial), the item and its deputies, the event
 * `liaison.v1.ItemRegistered` in the outbox, the answer kept for the key →
 * COMMIT. A refusal after BEGIN rolls everything back, the counter's
 * increment included, so numbers stay gapless.
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

int intake_publish(PGconn *conn, const char *type, const char *court, const char *item_id,
                   const char *correlation, const void *payload, size_t len)
{
    char event_id[37];
    bus_uuid4(event_id);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.envelope_version = BUS_ENVELOPE_VERSION;
    env.event_id = event_id;
    env.type = (char *)type;
    env.stream = INTAKE_STREAM;
    env.court_id = (char *)(court ? court : "");
    env.item_id = (char *)(item_id ? item_id : "");
    env.occurred_at_us = 0;
    env.correlation_id =
        (char *)(correlation && bus_uuid_valid(correlation) ? correlation : event_id);
    env.causation_id = "";
    env.producer = INTAKE_PRODUCER;
    env.producer_version = INTAKE_VERSION;
    env.schema_version = 1;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = len;
    char *error = NULL;
    if (bus_publish(conn, &env, &error) != 0) {
        log_error("intake: publish failed", "type=%s error=\"%s\"", type, error ? error : "?");
        free(error);
        return -1;
    }
    return 0;
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

static Liaison__V1__ActorRole s_actor_role(intake_role_t role)
{
    switch (role) {
    case INTAKE_ROLE_LIAISON_OFFICE:
        return LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_LIAISON_OFFICE;
    case INTAKE_ROLE_OPERATOR:
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
    actor.name = (char *)intake_role_name(p->role);
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

/* The outcome of one attempt of the registration transaction. */
typedef enum { TRY_DONE, TRY_RETRY, TRY_COURT_CHANGED } try_t;

static try_t s_register_tx(intake_worker_t *w, intake_job_t *job, const intake_principal_t *p,
                           const reg_t *r, const char *hash, const char *zone_name,
                           const char *tmpl, int64_t now_us)
{
    PGconn *conn = intake_worker_conn(w);
    char sqlstate[6];
    domain_zone_t zone;
    domain_date_t received_date, registered_date;
    if (domain_zone_find(zone_name, &zone) != 0 ||
        domain_zone_local_date(&zone, r->received_us / 1000000 - (r->received_us % 1000000 < 0),
                               &received_date) != 0 ||
        domain_zone_local_date(&zone, now_us / 1000000, &registered_date) != 0) {
        intake_job_problemf(job, 500, "court_misconfigured", "court", "法院时区配置无效。",
                            "The court's time zone %s is not usable.", zone_name);
        return TRY_DONE;
    }
    /* Art. 13: registered the day it is received; later is allowed, but
     * recorded as late, with its reason. */
    bool late = domain_date_compare(registered_date, received_date) > 0;
    if (late && !r->late_reason) {
        char rd[DOMAIN_DATE_STRLEN], gd[DOMAIN_DATE_STRLEN];
        intake_job_problemf(job, 422, "late_reason_required", "late_reason",
                            "未在收到当日登记，须说明逾期登记的原因（第十三条）。",
                            "Received on %s and registered on %s: a late registration needs "
                            "late_reason (Art. 13).",
                            domain_date_format(received_date, rd),
                            domain_date_format(registered_date, gd));
        return TRY_DONE;
    }

    if (intake_sql_begin(conn, job->court) != 0)
        goto db_error;
    char year_s[8], rdate_s[DOMAIN_DATE_STRLEN];
    snprintf(year_s, sizeof year_s, "%d", registered_date.year);
    domain_date_format(received_date, rdate_s);
    /* the deputies as a Postgres array literal, elements quoted */
    char *arr = NULL;
    size_t arr_len = 0;
    FILE *f = open_memstream(&arr, &arr_len);
    fputc('{', f);
    for (size_t i = 0; i < r->n_deputies; i++) {
        fputs(i ? ",\"" : "\"", f);
        for (const char *c = r->deputies[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                fputc('\\', f);
            fputc(*c, f);
        }
        fputc('"', f);
    }
    fputc('}', f);
    fclose(f);
    const char *rp[9] = {job->court, job->idem_key, hash,      arr, year_s,
                         rdate_s,    r->department, zone_name, tmpl};
    PGresult *res =
        intake_sql(conn,
                   "SELECT status, serial, detail FROM item_reserve($1, $2, $3, $4::text[], "
                   "$5::int, $6::date, $7, $8, $9)",
                   9, rp, sqlstate);
    free(arr);
    if (!res)
        goto db_error;
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "ok") != 0) {
        json_t *detail = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
        intake_sql_rollback(conn);
        try_t t = TRY_DONE;
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
            intake_job_problem(job, 404, "unknown_court", "court", "No such court.",
                               "法院不存在。");
        } else if (strcmp(status, "court_changed") == 0) {
            t = TRY_COURT_CHANGED;
        } else if (strcmp(status, "unknown_deputy") == 0 ||
                   strcmp(status, "deputy_term_ended") == 0) {
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
        }
        json_decref(detail);
        PQclear(res);
        return t;
    }
    long long serial = atoll(PQgetvalue(res, 0, 1));
    json_t *snap = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    PQclear(res);
    if (!snap || serial <= 0 || serial > DOMAIN_REGNUM_MAX_SEQ) {
        intake_sql_rollback(conn);
        json_decref(snap);
        intake_job_problem(job, 500, "internal_error", NULL,
                           "The registration counter is exhausted.", "登记编号已用尽。");
        return TRY_DONE;
    }
    for (size_t i = 0; i < json_array_size(snap) && i < r->n_deputies; i++)
        json_object_set_new(json_array_get(snap, i), "lead", json_boolean(r->lead[i]));

    char number[DOMAIN_REGNUM_MAX];
    if (domain_regnum_render(tmpl, registered_date.year, (uint32_t)serial, number, sizeof number) !=
        0) {
        intake_sql_rollback(conn);
        json_decref(snap);
        intake_job_problem(job, 500, "court_misconfigured", "court",
                           "The court's registration number template is not usable.",
                           "法院登记编号格式无效。");
        return TRY_DONE;
    }

    char item_id[37], received_s[48], registered_s[48], gdate_s[DOMAIN_DATE_STRLEN];
    bus_uuid4(item_id);
    intake_format_instant(r->received_us, zone.utc_offset_s, received_s, sizeof received_s);
    intake_format_instant(now_us, zone.utc_offset_s, registered_s, sizeof registered_s);
    domain_date_format(registered_date, gdate_s);

    json_t *answer =
        json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:b}", "item_id", item_id, "court",
                  job->court, "registration_number", number, "registration_year",
                  registered_date.year, "registration_serial", (json_int_t)serial, "received_at",
                  received_s, "received_date", rdate_s, "registered_at", registered_s,
                  "registered_date", gdate_s, "registered_late", late);
    if (late)
        json_object_set_new(answer, "late_reason", json_string(r->late_reason));
    char *answer_s = json_dumps(answer, JSON_COMPACT);
    char *snap_s = json_dumps(snap, JSON_COMPACT);
    char *session_s = r->has_session ? json_dumps(r->session, JSON_COMPACT) : NULL;
    char *att_s = r->attachments ? json_dumps(r->attachments, JSON_COMPACT) : strdup("[]");
    json_t *by = json_pack("{s:s, s:s}", "role", intake_role_name(p->role), "token", p->token_hash);
    if (p->department[0])
        json_object_set_new(by, "department", json_string(p->department));
    char *by_s = json_dumps(by, JSON_COMPACT);
    json_decref(by);
    char serial_s[24], recv_us_s[24], reg_us_s[24];
    snprintf(serial_s, sizeof serial_s, "%lld", serial);
    snprintf(recv_us_s, sizeof recv_us_s, "%lld", (long long)r->received_us);
    snprintf(reg_us_s, sizeof reg_us_s, "%lld", (long long)now_us);
    const char *ip[25] = {item_id,
                          job->court,
                          number,
                          year_s,
                          serial_s,
                          r->kind->name,
                          r->kind->domain,
                          r->channel->name,
                          r->source->name,
                          r->source_detail ? r->source_detail : "",
                          r->source_reference ? r->source_reference : "",
                          r->court_role,
                          session_s,
                          r->title,
                          r->content,
                          att_s,
                          r->department,
                          recv_us_s,
                          rdate_s,
                          reg_us_s,
                          gdate_s,
                          late ? "true" : "false",
                          late ? r->late_reason : NULL,
                          by_s,
                          job->idem_key};
    const char *ip2[2] = {snap_s, answer_s};
    const char *all[27];
    memcpy(all, ip, sizeof ip);
    memcpy(all + 25, ip2, sizeof ip2);
    res = intake_sql(
        conn,
        "WITH i AS (INSERT INTO item (item_id, court_id, registration_number, registration_year, "
        "  registration_serial, kind, domain_kind, channel, source, source_detail, "
        "source_reference, "
        "  court_role, session, title, content, attachments, receiving_department_code, "
        "received_at, "
        "  received_date, registered_at, registered_date, registered_late, late_reason, "
        "  registered_by, idempotency_key) "
        " VALUES ($1::uuid, $2, $3, $4::int, $5::bigint, $6, $7, $8, $9, $10, $11, $12, "
        "$13::jsonb, "
        "  $14, $15, $16::jsonb, $17, 'epoch'::timestamptz + $18::bigint * interval '1 "
        "microsecond', "
        "  $19::date, 'epoch'::timestamptz + $20::bigint * interval '1 microsecond', $21::date, "
        "  $22::boolean, $23, $24::jsonb, $25) RETURNING item_id), "
        "d AS (INSERT INTO item_deputy (item_id, court_id, position, deputy_id, lead, name) "
        " SELECT $1::uuid, $2, (t.ord - 1)::int, (t.x->>'id')::uuid, (t.x->>'lead')::boolean, "
        "  t.x->>'name' FROM jsonb_array_elements($26::jsonb) WITH ORDINALITY AS t(x, ord)), "
        "k AS (UPDATE idempotency SET status = 201, response = $27::jsonb "
        " WHERE court_id = $2 AND idem_key = $25) "
        "SELECT item_id FROM i",
        27, all, sqlstate);
    free(session_s);
    free(att_s);
    free(by_s);
    free(snap_s);
    free(answer_s);
    if (!res) {
        json_decref(snap);
        json_decref(answer);
        goto db_error;
    }
    PQclear(res);

    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = s_pack_event(r, p, item_id, number, registered_date.year, serial, snap, now_us,
                          received_date, registered_date, late, &payload, &plen);
    json_decref(snap);
    if (rc == 0)
        rc = intake_publish(conn, "liaison.v1.ItemRegistered", job->court, item_id, NULL, payload,
                            plen);
    free(payload);
    if (rc != 0 || intake_sql_commit(conn, sqlstate) != 0) {
        json_decref(answer);
        goto db_error;
    }
    job->published = true;
    char loc[160];
    snprintf(loc, sizeof loc, "/v1/courts/%s/items/%s", job->court, item_id);
    job->location = strdup(loc);
    intake_job_answer(job, 201, answer);
    return TRY_DONE;

db_error:
    intake_sql_rollback(conn);
    if (sqlstate[0] && strncmp(sqlstate, "40", 2) == 0)
        return TRY_RETRY; /* serialization failure or deadlock: run it again */
    intake_job_problem(job, 503, "database_unavailable", NULL,
                       "The registration could not be stored; nothing was registered. Try again.",
                       "登记未能保存，未产生任何记录，请重试。");
    return TRY_DONE;
}

void intake_item_register(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_REGISTER))
        return;
    if (!intake_content_type_is(job->content_type, "application/json")) {
        intake_job_problem(job, 415, "unsupported_media_type", "Content-Type",
                           "The body must be application/json.", "请求正文须为 application/json。");
        return;
    }
    if (!job->body || !domain_utf8_valid(job->body, job->body_len)) {
        intake_job_problem(job, 400, "invalid_utf8", "body", "The body is not valid UTF-8.",
                           "请求正文不是有效的 UTF-8 文本。");
        return;
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
        return;
    }
    int64_t now_us = clock_now_us(intake_worker_clock(w));
    reg_t r;
    if (!s_validate(job, root, now_us, &r)) {
        json_decref(root);
        return;
    }
    char *canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    char hash[65];
    intake_sha256_hex(canon ? canon : "", canon ? strlen(canon) : 0, hash);
    free(canon);

    bool fresh = false;
    for (int attempt = 0; attempt < RETRIES + 1; attempt++) {
        char zone[40], tmpl[256];
        int c = intake_worker_court(w, job->court, fresh, zone, sizeof zone, tmpl, sizeof tmpl);
        if (c == -1) {
            intake_job_problem(job, 404, "unknown_court", "court", "No such court.",
                               "法院不存在。");
            break;
        }
        if (c != 0) {
            intake_job_problem(job, 503, "database_unavailable", NULL,
                               "The database is unavailable; try again.",
                               "数据库暂不可用，请稍后重试。");
            break;
        }
        now_us = clock_now_us(intake_worker_clock(w));
        try_t t = s_register_tx(w, job, &p, &r, hash, zone, tmpl, now_us);
        if (t == TRY_DONE)
            break;
        fresh = t == TRY_COURT_CHANGED;
        if (attempt == RETRIES)
            intake_job_problem(
                job, 503, "conflict_retry", NULL,
                "The registration kept conflicting; nothing was registered. Try again.",
                "登记冲突，未产生任何记录，请重试。");
    }
    json_decref(root);
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
