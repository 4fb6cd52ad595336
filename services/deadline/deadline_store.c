/* deadline_store — the deadline rows and the events they publish.
 *
 * Every function here runs inside a transaction the caller opened on its
 * own blocking connection (a consumer's, or the timer thread's), so a
 * deadline's row, its history and its events commit together or not at all
 * (ARCHITECTURE.md §2 outbox, §3 deadlines).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bus.h"
#include "common/log.h"
#include "deadline/deadline.h"
#include "liaison/v1/deadlines.pb-c.h"
#include "liaison/v1/notices.pb-c.h"

/* ---- small owned buffers ----------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} sbuf_t;

static void sb_addn(sbuf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_add(sbuf_t *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static void sb_addf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sb_addn(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_addn(b, big, (size_t)n);
    free(big);
}

static void sb_reset(sbuf_t *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

static void sb_release(sbuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Array literals for unnest(): elements are quoted, and a quote or a
 * backslash inside one escaped. */
static void arr_open(sbuf_t *b)
{
    sb_reset(b);
    sb_add(b, "{");
}

static void arr_str(sbuf_t *b, const char *s)
{
    if (b->len > 1)
        sb_add(b, ",");
    sb_add(b, "\"");
    /* Ids from the directory and the items are outside input: a quote or a
     * backslash in one must not end its element. */
    const char *q;
    while ((q = strpbrk(s, "\"\\")) != NULL) {
        sb_addn(b, s, (size_t)(q - s));
        sb_add(b, "\\");
        sb_addn(b, q, 1);
        s = q + 1;
    }
    sb_add(b, s);
    sb_add(b, "\"");
}

static void arr_i64(sbuf_t *b, int64_t v)
{
    sb_addf(b, b->len > 1 ? ",%lld" : "%lld", (long long)v);
}

static void arr_null(sbuf_t *b)
{
    sb_add(b, b->len > 1 ? ",NULL" : "NULL");
}

static void arr_close(sbuf_t *b)
{
    sb_add(b, "}");
}

static const char s_hex[] = "0123456789abcdef";

/* ---- the batched outbox ---------------------------------------------------------- */

/* The envelopes travel as one binary bytea[] parameter (PostgreSQL's
 * array_send format: ndim, has-null flag, element type, dimension, lower
 * bound, then length + bytes per element, all big-endian): a text array of
 * hex would be twice the bytes and parsed by the server character by
 * character, which was the most expensive step of firing. */
struct deadline_outbox {
    sbuf_t ids, types, bin;
    size_t n;
};

#define BYTEA_OID 17u

static void s_be32(sbuf_t *b, uint32_t v)
{
    char x[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    sb_addn(b, x, 4);
}

static void s_bin_reset(sbuf_t *b)
{
    sb_reset(b);
    char header[20] = {0};
    sb_addn(b, header, sizeof header); /* filled in at flush */
}

deadline_outbox_t *deadline_outbox_new(void)
{
    deadline_outbox_t *self = calloc(1, sizeof *self);
    if (self) {
        arr_open(&self->ids);
        arr_open(&self->types);
        s_bin_reset(&self->bin);
    }
    return self;
}

void deadline_outbox_destroy(deadline_outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    deadline_outbox_t *self = *self_p;
    sb_release(&self->ids);
    sb_release(&self->types);
    sb_release(&self->bin);
    free(self);
    *self_p = NULL;
}

size_t deadline_outbox_count(const deadline_outbox_t *self)
{
    return self->n;
}

int deadline_outbox_add(deadline_outbox_t *self, const Liaison__V1__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    char *error = NULL;
    if (bus_envelope_pack(env, &buf, &len, &error) != 0) {
        log_error("deadline: event refused", "type=%s error=%s", env->type, error);
        free(error);
        return -1;
    }
    arr_str(&self->ids, env->event_id);
    arr_str(&self->types, env->type);
    s_be32(&self->bin, (uint32_t)len);
    sb_addn(&self->bin, (const char *)buf, len);
    free(buf);
    self->n++;
    return self->bin.failed || self->ids.failed || self->types.failed ? -1 : 0;
}

int deadline_outbox_flush(deadline_outbox_t *self, PGconn *conn, char **error)
{
    if (self->n == 0)
        return 0;
    arr_close(&self->ids);
    arr_close(&self->types);
    int rc = -1;
    if (self->ids.failed || self->types.failed || self->bin.failed ||
        self->bin.len > (size_t)INT32_MAX) {
        *error = strdup("out of memory");
    } else {
        sbuf_t head = {0};
        s_be32(&head, 1);         /* ndim */
        s_be32(&head, 0);         /* no NULLs */
        s_be32(&head, BYTEA_OID); /* element type */
        s_be32(&head, (uint32_t)self->n);
        s_be32(&head, 1); /* lower bound */
        if (head.failed) {
            *error = strdup("out of memory");
        } else {
            memcpy(self->bin.data, head.data, 20);
            /* unnest over several arrays zips them in order, so the events
             * keep the order they were added in (and their outbox ids). */
            const char *values[4] = {DEADLINE_STREAM, self->ids.data, self->types.data,
                                     self->bin.data};
            int lengths[4] = {0, 0, 0, (int)self->bin.len};
            int formats[4] = {0, 0, 0, 1};
            PGresult *r = PQexecParams(conn,
                                       "INSERT INTO bus_outbox (stream, event_id, type, envelope) "
                                       "SELECT $1, u.e, u.t, u.b "
                                       "FROM unnest($2::uuid[], $3::text[], $4::bytea[]) "
                                       "AS u(e, t, b)",
                                       4, NULL, values, lengths, formats, 0);
            if (PQresultStatus(r) == PGRES_COMMAND_OK) {
                rc = 0;
            } else {
                const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
                *error = strdup(msg && *msg ? msg : "outbox insert failed");
            }
            PQclear(r);
        }
        sb_release(&head);
    }
    arr_open(&self->ids);
    arr_open(&self->types);
    s_bin_reset(&self->bin);
    self->n = 0;
    return rc;
}

/* ---- events ----------------------------------------------------------------------- */

/* Wrap a payload in an envelope and add it to the batch; event_id out. */
static int s_emit(deadline_outbox_t *ob, const ProtobufCMessage *msg, const char *court,
                  const char *item, const char *causation, const char *correlation, int64_t now_us,
                  char event_id[37])
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    protobuf_c_message_pack(msg, buf);
    char type[128];
    snprintf(type, sizeof type, "%s", msg->descriptor->name);
    bus_uuid7(event_id);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.envelope_version = BUS_ENVELOPE_VERSION;
    env.event_id = event_id;
    env.type = type;
    env.stream = DEADLINE_STREAM;
    env.court_id = (char *)(court ? court : "");
    env.item_id = (char *)(item ? item : "");
    env.occurred_at_us = now_us;
    env.causation_id = (char *)(causation ? causation : "");
    env.correlation_id =
        (char *)(correlation && bus_uuid_valid(correlation) ? correlation : event_id);
    env.producer = DEADLINE_PRODUCER;
    env.schema_version = 1;
    env.payload.data = buf;
    env.payload.len = len;
    int rc = deadline_outbox_add(ob, &env);
    free(buf);
    return rc;
}

int deadline_stage_enum(const char *stage, int urge_count)
{
    if (strcmp(stage, "pending") == 0)
        return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_PENDING;
    if (strcmp(stage, "reminded") == 0)
        return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_REMINDED;
    if (strcmp(stage, "due") == 0)
        return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_DUE;
    if (strcmp(stage, "urged") == 0)
        return urge_count >= 2 ? LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_URGED_2
                               : LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_URGED_1;
    if (strcmp(stage, "escalated") == 0)
        return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_ESCALATED;
    if (strcmp(stage, "met") == 0)
        return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_MET;
    if (strcmp(stage, "cancelled") == 0)
        return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_CANCELLED;
    return LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_UNSPECIFIED;
}

/* ---- the timer queue ------------------------------------------------------------- */

void deadline_queue_timer(deadline_ctx_t *ctx, const char *id, int64_t at_us)
{
    pthread_mutex_lock(&ctx->qlock);
    if (ctx->qlen == ctx->qcap) {
        size_t cap = ctx->qcap ? ctx->qcap * 2 : 256;
        deadline_timer_t *q = realloc(ctx->queue, cap * sizeof *q);
        if (!q) {
            /* The sweep fires it anyway, seconds later. */
            pthread_mutex_unlock(&ctx->qlock);
            return;
        }
        ctx->queue = q;
        ctx->qcap = cap;
    }
    snprintf(ctx->queue[ctx->qlen].id, sizeof ctx->queue[ctx->qlen].id, "%s", id);
    ctx->queue[ctx->qlen].at_us = at_us;
    ctx->qlen++;
    pthread_mutex_unlock(&ctx->qlock);
}

size_t deadline_take_timers(deadline_ctx_t *ctx, deadline_timer_t **out)
{
    pthread_mutex_lock(&ctx->qlock);
    size_t n = ctx->qlen;
    *out = ctx->queue;
    ctx->queue = NULL;
    ctx->qlen = ctx->qcap = 0;
    pthread_mutex_unlock(&ctx->qlock);
    return n;
}

/* ---- due dates, schedules, explanations ---------------------------------------- */

static void s_date_str(domain_date_t d, char out[DOMAIN_DATE_STRLEN])
{
    domain_date_format(d, out);
}

static Liaison__V1__LocalDate s_local_date(domain_date_t d)
{
    Liaison__V1__LocalDate ld = LIAISON__V1__LOCAL_DATE__INIT;
    ld.year = d.year;
    ld.month = d.month;
    ld.day = d.day;
    return ld;
}

typedef struct {
    size_t n;
    char kind[DEADLINE_MAX_STEPS][16];
    int64_t at_us[DEADLINE_MAX_STEPS];
} schedule_t;

static int64_t s_date_stage_us(const domain_zone_t *zone, domain_date_t date, int64_t notice_s)
{
    int64_t start;
    if (domain_zone_start_of_day(zone, date, &start) != 0)
        return -1;
    return (start + notice_s) * 1000000;
}

/* The stages of a deadline (DOMAIN.md §4.3, Art. 20): reminders before the
 * due date that are still ahead, the due instant (24:00 court-local of the
 * last day), each urging, then exactly one escalation. Reminder labels in
 * `skip` (already sent before a recompute) are left out. */
static int s_schedule(const domain_rule_t *r, const domain_zone_t *zone, domain_date_t due,
                      int64_t due_us, int64_t notice_s, int64_t now_us, const char *skip,
                      schedule_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nreminders; i++) {
        domain_date_t d;
        if (domain_rule_reminder_date(r, due, i, &d) != 0)
            continue;
        int64_t at = s_date_stage_us(zone, d, notice_s);
        char label[16];
        snprintf(label, sizeof label, "remind:%d", r->reminders[i]);
        if (at < 0 || at <= now_us || at >= due_us)
            continue;
        if (skip && strstr(skip, label))
            continue;
        snprintf(out->kind[out->n], sizeof out->kind[0], "%s", label);
        out->at_us[out->n++] = at;
    }
    snprintf(out->kind[out->n], sizeof out->kind[0], "due");
    out->at_us[out->n++] = due_us;
    for (int n = 1; n <= r->urgings_before_escalation; n++) {
        domain_date_t d;
        if (domain_rule_urge_date(r, due, n, &d) != 0)
            return -1;
        snprintf(out->kind[out->n], sizeof out->kind[0], "urge:%d", n);
        out->at_us[out->n++] = s_date_stage_us(zone, d, notice_s);
    }
    domain_date_t e;
    if (domain_rule_escalation_date(r, due, &e) != 0)
        return -1;
    snprintf(out->kind[out->n], sizeof out->kind[0], "escalate");
    out->at_us[out->n++] = s_date_stage_us(zone, e, notice_s);
    for (size_t i = 0; i < out->n; i++)
        if (out->at_us[i] < 0)
            return -1;
    return 0;
}

static void s_schedule_arrays(const schedule_t *s, sbuf_t *kinds, sbuf_t *ats)
{
    arr_open(kinds);
    arr_open(ats);
    for (size_t i = 0; i < s->n; i++) {
        arr_str(kinds, s->kind[i]);
        arr_i64(ats, s->at_us[i]);
    }
    arr_close(kinds);
    arr_close(ats);
}

/* DueDateExplanation with its storage. */
typedef struct {
    Liaison__V1__DueDateExplanation msg;
    Liaison__V1__LocalDate trigger, nominal, due;
    Liaison__V1__CalendarDay days[DOMAIN_EXPLAIN_MAX_SKIPS];
    Liaison__V1__LocalDate dates[DOMAIN_EXPLAIN_MAX_SKIPS];
    Liaison__V1__CalendarDay *pdays[DOMAIN_EXPLAIN_MAX_SKIPS];
} explain_pb_t;

static void s_explain_pb(const domain_explain_t *ex, const char *summary, explain_pb_t *out)
{
    memset(out, 0, sizeof *out);
    liaison__v1__due_date_explanation__init(&out->msg);
    Liaison__V1__DueDateExplanation *m = &out->msg;
    m->rule_id = (char *)(ex->rule ? ex->rule : "");
    m->article = (char *)(ex->article ? ex->article : "");
    switch (ex->period.unit) {
    case DOMAIN_UNIT_SAME_DAY:
        m->unit = LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_SAME_DAY;
        break;
    case DOMAIN_UNIT_DAYS:
        m->unit = ex->period.direction == DOMAIN_DIRECTION_BEFORE
                      ? LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_DAYS_BEFORE
                      : LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_CALENDAR_DAYS;
        break;
    case DOMAIN_UNIT_WORKDAYS:
        m->unit = LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_WORKING_DAYS;
        break;
    case DOMAIN_UNIT_MONTHS:
        m->unit = LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_MONTHS;
        break;
    case DOMAIN_UNIT_YEAR_END:
        m->unit = LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_FIXED_DATE;
        break;
    default:
        m->unit = LIAISON__V1__PERIOD_UNIT__PERIOD_UNIT_UNSPECIFIED;
    }
    m->amount = ex->period.amount;
    out->trigger = s_local_date(ex->trigger);
    out->nominal = s_local_date(ex->nominal);
    out->due = s_local_date(ex->due);
    m->trigger_date = &out->trigger;
    m->nominal_date = &out->nominal;
    m->due_date = &out->due;
    m->due_at_us = ex->has_instant ? ex->due_instant * 1000000 : 0;
    m->time_zone = (char *)ex->zone.name;
    for (size_t i = 0; i < ex->nskips && i < DOMAIN_EXPLAIN_MAX_SKIPS; i++) {
        liaison__v1__calendar_day__init(&out->days[i]);
        out->dates[i] = s_local_date(ex->skips[i].date);
        out->days[i].date = &out->dates[i];
        out->days[i].kind = ex->skips[i].kind == DOMAIN_DAY_WEEKEND
                                ? LIAISON__V1__DAY_KIND__DAY_KIND_WEEKEND
                                : LIAISON__V1__DAY_KIND__DAY_KIND_HOLIDAY;
        out->days[i].holiday = (char *)(ex->skips[i].name ? ex->skips[i].name : "");
        out->days[i].notice = (char *)"";
        out->pdays[i] = &out->days[i];
    }
    m->n_skipped_days =
        ex->nskips < DOMAIN_EXPLAIN_MAX_SKIPS ? ex->nskips : DOMAIN_EXPLAIN_MAX_SKIPS;
    m->skipped_days = out->pdays;
    m->calendar_version = (char *)(ex->calendar_version ? ex->calendar_version : "");
    m->provisional = ex->provisional;
    m->summary = (char *)(summary ? summary : "");
}

static char *s_hex_of(const uint8_t *buf, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = s_hex[buf[i] >> 4];
        hex[2 * i + 1] = s_hex[buf[i] & 15];
    }
    hex[2 * len] = '\0';
    return hex;
}

static uint8_t *s_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n ? n : 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi =
            isdigit((unsigned char)hex[2 * i]) ? hex[2 * i] - '0' : (hex[2 * i] | 32) - 'a' + 10;
        int lo = isdigit((unsigned char)hex[2 * i + 1]) ? hex[2 * i + 1] - '0'
                                                        : (hex[2 * i + 1] | 32) - 'a' + 10;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n;
    return out;
}

/* The due date with its schedule and explanation, under the context's lock. */
typedef struct {
    domain_explain_t ex;
    schedule_t sched;
    char *text;   /* explanation text, caller frees */
    char *pb_hex; /* packed DueDateExplanation, hex; caller frees */
    explain_pb_t pb;
    char version[DOMAIN_CALENDAR_MAX_VERSION + 1];
    int64_t due_us;
    /* the court's rules and calendar, held while ex and pb borrow from them */
    deadline_court_view_t court;
} computed_t;

static void s_computed_release(computed_t *c)
{
    free(c->text);
    free(c->pb_hex);
    c->text = c->pb_hex = NULL;
    deadline_court_release(&c->court);
}

/* -1 error (reason), 1 the rule gives no deadline (disabled, periodic), 0 ok.
 * Call with ctx->lock held (read); the calendar may be a new one. The
 * court's own rules and days apply (deadline_court.c); on success c holds
 * them until s_computed_release(). */
static int s_compute(deadline_ctx_t *ctx, const domain_calendar_t *cal, const char *court,
                     domain_rule_id_t rule, domain_date_t trigger, const domain_zone_t *zone,
                     int64_t now_us, const char *skip, computed_t *c, char *reason, size_t rsize)
{
    memset(c, 0, sizeof *c);
    if (deadline_court_acquire(ctx, cal, court, &c->court, reason, rsize) != 0)
        return -1;
    const domain_rules_t *rules = c->court.rules;
    const domain_rule_t *r = domain_rules_get(rules, rule);
    if (!r || !r->enabled || r->period.unit == DOMAIN_UNIT_PERIODIC) {
        s_computed_release(c);
        return 1;
    }
    /* Unknown years give a provisional date, recomputed when the notice is
     * loaded (DOMAIN.md §4.1): a deadline must exist from the start. */
    if (domain_rules_due(rules, rule, c->court.calendar, court, trigger, DOMAIN_DUE_PROVISIONAL,
                         &c->ex) != 0) {
        snprintf(reason, rsize, "rule %s: %s", domain_rule_name(rule),
                 c->ex.error[0] ? c->ex.error : domain_due_status_name(c->ex.status));
        s_computed_release(c);
        return -1;
    }
    int64_t end;
    if (domain_zone_end_of_day(zone, c->ex.due, &end) != 0) {
        snprintf(reason, rsize, "rule %s: due date outside the zone's range",
                 domain_rule_name(rule));
        s_computed_release(c);
        return -1;
    }
    c->ex.zone = *zone;
    c->ex.has_instant = true;
    c->ex.due_instant = end;
    c->due_us = end * 1000000;
    if (s_schedule(r, zone, c->ex.due, c->due_us, ctx->notice_time_s, now_us, skip, &c->sched) !=
        0) {
        snprintf(reason, rsize, "rule %s: cannot place its stages", domain_rule_name(rule));
        s_computed_release(c);
        return -1;
    }
    snprintf(c->version, sizeof c->version, "%s",
             c->ex.calendar_version ? c->ex.calendar_version : "");
    c->text = domain_explain_text(&c->ex);
    s_explain_pb(&c->ex, c->text, &c->pb);
    size_t len = liaison__v1__due_date_explanation__get_packed_size(&c->pb.msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf) {
        liaison__v1__due_date_explanation__pack(&c->pb.msg, buf);
        c->pb_hex = s_hex_of(buf, len);
        free(buf);
    }
    if (!c->text || !c->pb_hex) {
        s_computed_release(c);
        snprintf(reason, rsize, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- opening ------------------------------------------------------------------------ */

int deadline_open(PGconn *conn, deadline_ctx_t *ctx, const deadline_cause_t *cause,
                  const char *item_id, domain_rule_id_t rule, int round, domain_date_t trigger,
                  const char *department_id, char *reason, size_t reason_size)
{
    reason[0] = '\0';
    domain_zone_t zone;
    if (deadline_court_load(conn, ctx, cause->court, &zone, reason, reason_size) != 0)
        return -1;
    int64_t now_us = clock_now_us(ctx->clock);
    computed_t c;
    pthread_rwlock_rdlock(&ctx->lock);
    int rc = s_compute(ctx, ctx->calendar, cause->court, rule, trigger, &zone, now_us, NULL, &c,
                       reason, reason_size);
    if (rc != 0) {
        pthread_rwlock_unlock(&ctx->lock);
        return rc < 0 ? -1 : 1;
    }

    char id[37], trig[DOMAIN_DATE_STRLEN], due[DOMAIN_DATE_STRLEN], round_s[16], due_us[24],
        now_s[24];
    bus_uuid7(id);
    s_date_str(trigger, trig);
    s_date_str(c.ex.due, due);
    snprintf(round_s, sizeof round_s, "%d", round);
    snprintf(due_us, sizeof due_us, "%lld", (long long)c.due_us);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_us);
    sbuf_t kinds = {0}, ats = {0};
    s_schedule_arrays(&c.sched, &kinds, &ats);
    const char *p[18] = {id,
                         cause->court,
                         item_id,
                         domain_rule_name(rule),
                         round_s,
                         department_id ? department_id : "",
                         trig,
                         cause->event_id ? cause->event_id : "",
                         due,
                         due_us,
                         zone.name,
                         c.version,
                         c.ex.provisional ? "t" : "f",
                         c.text,
                         c.pb_hex,
                         kinds.data,
                         ats.data,
                         now_s};
    char *err = NULL;
    /* registration_number from the item, when intake's event came first. */
    PGresult *r = pg_exec_blocking(
        conn,
        "INSERT INTO deadline (id, court_id, item_id, rule_id, round, department_id, "
        "  trigger_date, trigger_event_id, due_date, due_at_us, time_zone, calendar_version, "
        "  provisional, explanation, explanation_pb, schedule_kind, schedule_at, next_step, "
        "  next_fire_at, created_at_us, updated_at_us, registration_number) "
        "VALUES ($1::uuid, $2, $3, $4, $5::int, $6, $7::date, $8, $9::date, $10::bigint, $11, $12, "
        "  $13::bool, $14, decode($15, 'hex'), $16::text[], $17::bigint[], 1, "
        "  ($17::bigint[])[1], $18::bigint, $18::bigint, "
        "  coalesce((SELECT registration_number FROM item WHERE item_id = $3), '')) "
        "ON CONFLICT (item_id, rule_id, round) DO NOTHING RETURNING id",
        18, p, &err);
    sb_release(&kinds);
    sb_release(&ats);
    if (!r) {
        pthread_rwlock_unlock(&ctx->lock);
        s_computed_release(&c);
        snprintf(reason, reason_size, "insert deadline: %s", err);
        free(err);
        return -1;
    }
    bool created = PQntuples(r) == 1;
    PQclear(r);
    if (!created) {
        pthread_rwlock_unlock(&ctx->lock);
        s_computed_release(&c);
        return 1;
    }

    /* DeadlineCreated, with the explanation (its strings borrow from the
     * calendar: packed while the lock is held). */
    Liaison__V1__DeadlineCreated ev = LIAISON__V1__DEADLINE_CREATED__INIT;
    ev.deadline_id = id;
    ev.item_id = (char *)item_id;
    ev.rule_id = (char *)domain_rule_name(rule);
    ev.round = round;
    ev.stage = LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_PENDING;
    ev.explanation = &c.pb.msg;
    ev.department_id = (char *)(department_id ? department_id : "");
    ev.supervising_leader_id = (char *)"";
    const domain_rule_t *rr = domain_rules_get(c.court.rules, rule);
    int32_t before[DOMAIN_RULE_MAX_REMINDERS];
    for (size_t i = 0; i < rr->nreminders; i++)
        before[i] = rr->reminders[i];
    ev.n_remind_days_before = rr->nreminders;
    ev.remind_days_before = before;
    ev.trigger_event_id = (char *)(cause->event_id ? cause->event_id : "");
    deadline_outbox_t *ob = deadline_outbox_new();
    char event_id[37];
    rc = ob ? s_emit(ob, &ev.base, cause->court, item_id, cause->event_id, cause->correlation_id,
                     now_us, event_id)
            : -1;
    pthread_rwlock_unlock(&ctx->lock);
    int64_t first_at = c.sched.at_us[0];
    s_computed_release(&c);
    if (rc == 0 && deadline_outbox_flush(ob, conn, &err) != 0) {
        snprintf(reason, reason_size, "outbox: %s", err);
        free(err);
        rc = -1;
    }
    deadline_outbox_destroy(&ob);
    if (rc != 0) {
        if (!reason[0])
            snprintf(reason, reason_size, "cannot publish DeadlineCreated");
        return -1;
    }
    const char *h[3] = {id, event_id, now_s};
    if (pg_exec_ok(conn,
                   "INSERT INTO deadline_history (deadline_id, step, kind, event_id, fired_at_us, "
                   "fired_by) VALUES ($1::uuid, 0, 'created', $2::uuid, $3::bigint, 'consumer')",
                   3, h, &err) != 0) {
        snprintf(reason, reason_size, "history: %s", err);
        free(err);
        return -1;
    }
    deadline_queue_timer(ctx, id, first_at);
    return 0;
}

/* ---- meeting and cancelling -------------------------------------------------------- */

int deadline_close(PGconn *conn, deadline_ctx_t *ctx, const deadline_cause_t *cause,
                   const char *item_id, const char *const *rules, size_t nrules, int max_round,
                   bool met, domain_date_t when, int cancel_reason, const char *detail,
                   char *reason, size_t reason_size)
{
    reason[0] = '\0';
    sbuf_t arr = {0};
    if (rules) {
        arr_open(&arr);
        for (size_t i = 0; i < nrules; i++)
            arr_str(&arr, rules[i]);
        arr_close(&arr);
    }
    int64_t now_us = clock_now_us(ctx->clock);
    char now_s[24], round_s[16], date[DOMAIN_DATE_STRLEN], why[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_us);
    snprintf(round_s, sizeof round_s, "%d", max_round);
    snprintf(why, sizeof why, "%d", cancel_reason);
    s_date_str(when, date);
    const char *p[9] = {item_id,
                        rules ? arr.data : NULL,
                        met ? "met" : "cancelled",
                        now_s,
                        date,
                        cause->event_id ? cause->event_id : "",
                        met ? "" : (detail ? detail : why),
                        round_s,
                        met ? "t" : "f"};
    char *err = NULL;
    PGresult *r = pg_exec_blocking(
        conn,
        "UPDATE deadline SET stage = $3, next_fire_at = NULL, updated_at_us = $4::bigint, "
        "  met_date = CASE WHEN $9::bool THEN $5::date END, "
        "  met_late = CASE WHEN $9::bool THEN $5::date > due_date END, "
        "  closed_by_event_id = $6, cancel_reason = $7 "
        "WHERE item_id = $1 AND stage NOT IN ('met', 'cancelled') "
        "  AND ($2::text[] IS NULL OR rule_id = ANY($2::text[])) "
        "  AND ($8::int = 0 OR round <= $8::int) "
        "RETURNING id, court_id, coalesce(met_late, false), stage",
        9, p, &err);
    sb_release(&arr);
    if (!r) {
        snprintf(reason, reason_size, "close deadlines: %s", err);
        free(err);
        return -1;
    }
    int n = PQntuples(r);
    deadline_outbox_t *ob = n ? deadline_outbox_new() : NULL;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *id = PQgetvalue(r, i, 0);
        char event_id[37];
        Liaison__V1__LocalDate ld = s_local_date(when);
        if (met) {
            Liaison__V1__DeadlineMet ev = LIAISON__V1__DEADLINE_MET__INIT;
            ev.deadline_id = (char *)id;
            ev.item_id = (char *)item_id;
            ev.stage = LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_MET;
            ev.met_date = &ld;
            ev.late = PQgetvalue(r, i, 2)[0] == 't';
            ev.met_by_event_id = (char *)(cause->event_id ? cause->event_id : "");
            rc = s_emit(ob, &ev.base, PQgetvalue(r, i, 1), item_id, cause->event_id,
                        cause->correlation_id, now_us, event_id);
        } else {
            Liaison__V1__DeadlineCancelled ev = LIAISON__V1__DEADLINE_CANCELLED__INIT;
            ev.deadline_id = (char *)id;
            ev.item_id = (char *)item_id;
            ev.stage = LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_CANCELLED;
            ev.reason = cancel_reason;
            ev.detail = (char *)(detail ? detail : "");
            ev.cause_event_id = (char *)(cause->event_id ? cause->event_id : "");
            rc = s_emit(ob, &ev.base, PQgetvalue(r, i, 1), item_id, cause->event_id,
                        cause->correlation_id, now_us, event_id);
        }
        const char *h[5] = {id, met ? "met" : "cancelled", event_id, now_s, detail ? detail : ""};
        if (rc == 0 &&
            pg_exec_ok(conn,
                       "INSERT INTO deadline_history (deadline_id, step, kind, event_id, "
                       "fired_at_us, fired_by, detail) VALUES ($1::uuid, 0, $2, $3::uuid, "
                       "$4::bigint, 'consumer', $5)",
                       5, h, &err) != 0) {
            snprintf(reason, reason_size, "history: %s", err);
            free(err);
            err = NULL;
            rc = -1;
        }
    }
    PQclear(r);
    if (rc == 0 && ob && deadline_outbox_flush(ob, conn, &err) != 0) {
        snprintf(reason, reason_size, "outbox: %s", err);
        free(err);
        rc = -1;
    }
    deadline_outbox_destroy(&ob);
    if (rc != 0 && !reason[0])
        snprintf(reason, reason_size, "cannot publish the deadline's event");
    return rc == 0 ? n : -1;
}

/* ---- firing --------------------------------------------------------------------------
 *
 * The rows are read without FOR UPDATE: the conditional UPDATE below is the
 * fence. Under READ COMMITTED an UPDATE that meets a row another transaction
 * changed waits for it and evaluates its WHERE again on the new version, so
 * of two firers of the same step (a Redis claim and the sweep, or a stale
 * instance) exactly one advances the row, and a deadline met or cancelled
 * meanwhile is not advanced at all. Events are built only for the rows the
 * UPDATE returned. (Locking the rows first would write every tuple twice.)
 * The sweep does lock what it reads, SKIP LOCKED, to leave alone the rows a
 * Redis firer is committing; it never waits on a lock after that, so the
 * two cannot deadlock.
 */

enum {
    F_ID,
    F_COURT,
    F_ITEM,
    F_RULE,
    F_ROUND,
    F_DEPT,
    F_REGNUM,
    F_DUE_DATE,
    F_DUE_US,
    F_STEP,
    F_KIND,
    F_AT,
    F_NEXT_AT,
    F_NEXT_KIND,
    F_FIRE_AT,
    F_URGES,
    F_REPORTED,
    F_DEPT_NAME,
    F_LEAD_ID,
    F_LEAD_NAME,
    F_LEAD_MOBILE,
    F_LEAD_EMAIL,
    F_HEAD_ID,
    F_HEAD_NAME,
    F_HEAD_MOBILE,
    F_HEAD_EMAIL,
    F_LO_ID,
    F_LO_NAME,
};

/* A deadline with no department is the liaison office's own (the transfer
 * of Art. 15: 审批后二日内转交): the office stands as its department, and its
 * supervising leader is the one an escalation tells (Art. 20). */
#define FIRE_SELECT                                                                                \
    "SELECT d.id, d.court_id, d.item_id, d.rule_id, d.round, "                                     \
    "  coalesce(dep.department_id, d.department_id), "                                             \
    "  d.registration_number, d.due_date, d.due_at_us, d.next_step, "                              \
    "  d.schedule_kind[d.next_step], d.schedule_at[d.next_step], d.schedule_at[d.next_step + 1], " \
    "  d.schedule_kind[d.next_step + 1], d.next_fire_at, d.urge_count, d.result_reported, "        \
    "  coalesce(dep.name, ''), coalesce(dep.supervising_staff_id, ''), coalesce(lead.name, ''), "  \
    "  coalesce(lead.mobile, ''), coalesce(lead.email, ''), coalesce(dep.head_staff_id, ''), "     \
    "  coalesce(head.name, ''), coalesce(head.mobile, ''), coalesce(head.email, ''), "             \
    "  coalesce(lo.department_id, ''), coalesce(lo.name, '') "                                     \
    "FROM deadline d "                                                                             \
    "LEFT JOIN LATERAL (SELECT x.department_id, x.name FROM department x "                         \
    "  WHERE x.court_id = d.court_id AND x.kind = 'liaison-office' AND x.active "                  \
    "  ORDER BY x.department_id LIMIT 1) lo ON true "                                              \
    "LEFT JOIN department dep ON dep.department_id = "                                             \
    "  CASE WHEN d.department_id <> '' THEN d.department_id ELSE lo.department_id END "            \
    "LEFT JOIN staff lead ON lead.staff_id = dep.supervising_staff_id "                            \
    "LEFT JOIN staff head ON head.staff_id = dep.head_staff_id "

static const char s_fire_ids_sql[] =
    FIRE_SELECT "WHERE d.id = ANY($1::uuid[]) AND d.next_fire_at IS NOT NULL";
static const char s_fire_sweep_sql[] =
    FIRE_SELECT "WHERE d.next_fire_at <= $1::bigint "
                "ORDER BY d.next_fire_at LIMIT $2::int FOR UPDATE OF d SKIP LOCKED";

/* The recipients only some rules name, resolved for a whole batch in one
 * query and only for the stages that name them (most stages tell the
 * department's people, which FIRE_SELECT joins already):
 *   'p', court: the court president (院长), the active staff member with the
 *               president role (the first by id should a court record two);
 *   'o', item:  each distinct paired liaison officer (挂点联络员, Art. 9) of
 *               the item's deputies, unless the officer left (inactive).
 * Sorted in byte order of (tag, key) for s_resolved's binary search. */
static const char s_recipients_sql[] =
    "SELECT * FROM ("
    "  SELECT 'p' AS tag, c.k, p.staff_id AS id, p.name, p.mobile, p.email "
    "  FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS u(k)) c "
    "  CROSS JOIN LATERAL (SELECT s.staff_id, s.name, s.mobile, s.email FROM staff s "
    "    WHERE s.court_id = c.k AND s.active AND 'president' = ANY (s.roles) "
    "    ORDER BY s.staff_id LIMIT 1) p "
    "  UNION ALL "
    "  SELECT DISTINCT 'o', x.item_id, d.liaison_officer_staff_id, coalesce(s.name, ''), "
    "    coalesce(s.mobile, ''), coalesce(s.email, '') "
    "  FROM unnest($2::text[]) AS i(k) "
    "  JOIN item_deputy x ON x.item_id = i.k "
    "  JOIN deputy d ON d.deputy_id = x.deputy_id AND d.liaison_officer_staff_id <> '' "
    "  LEFT JOIN staff s ON s.staff_id = d.liaison_officer_staff_id "
    "  WHERE coalesce(s.active, true)"
    ") r ORDER BY tag, k COLLATE \"C\", id COLLATE \"C\"";

enum { R_TAG, R_KEY, R_ID, R_NAME, R_MOBILE, R_EMAIL };

static int s_res_cmp(const PGresult *res, int row, char tag, const char *key)
{
    char t = PQgetvalue(res, row, R_TAG)[0];
    if (t != tag)
        return (unsigned char)t < (unsigned char)tag ? -1 : 1;
    return strcmp(PQgetvalue(res, row, R_KEY), key);
}

/* The rows [*lo, *hi) of the resolved recipients for (tag, key). */
static void s_resolved(const PGresult *res, char tag, const char *key, int *lo, int *hi)
{
    int a = 0, b = res ? PQntuples(res) : 0;
    while (a < b) {
        int m = a + (b - a) / 2;
        if (s_res_cmp(res, m, tag, key) < 0)
            a = m + 1;
        else
            b = m;
    }
    *lo = *hi = a;
    int n = res ? PQntuples(res) : 0;
    while (*hi < n && s_res_cmp(res, *hi, tag, key) == 0)
        (*hi)++;
}

static const char *s_stage_of(const char *kind)
{
    if (strncmp(kind, "remind:", 7) == 0)
        return "reminded";
    if (strcmp(kind, "due") == 0)
        return "due";
    if (strncmp(kind, "urge:", 5) == 0)
        return "urged";
    if (strcmp(kind, "escalate") == 0)
        return "escalated";
    return NULL;
}

static int s_cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One NoticeRequested to one recipient of a stage. */
#define NOTICE_MAX_SENT 32
typedef struct {
    deadline_outbox_t *ob;
    const char *court, *item, *source_event, *correlation, *template_id, *dedup_base;
    Liaison__V1__TemplateParam **params;
    size_t nparams;
    int64_t now_us;
    /* whom this stage told already: a person named twice (the president who
     * is also the supervising leader, an officer who heads the department)
     * gets one notice */
    struct {
        int kind;
        const char *id;
    } sent[NOTICE_MAX_SENT];
    size_t nsent;
    const char *on_behalf; /* a fallback: the recipient named (dedup suffix) */
} notice_ctx_t;

static int s_notice(notice_ctx_t *n, int kind, const char *id, const char *name, const char *mobile,
                    const char *email)
{
    if (!n->on_behalf) {
        for (size_t i = 0; i < n->nsent; i++)
            if (n->sent[i].kind == kind && strcmp(n->sent[i].id, id) == 0)
                return 0;
        if (n->nsent < NOTICE_MAX_SENT) {
            n->sent[n->nsent].kind = kind;
            n->sent[n->nsent].id = id;
            n->nsent++;
        }
    }
    Liaison__V1__Recipient rc = LIAISON__V1__RECIPIENT__INIT;
    rc.kind = kind;
    rc.id = (char *)id;
    rc.name = (char *)name;
    /* SMS when a mobile is known, else email, else the court's OA webhook
     * (the notify daemon's configuration knows its address). */
    int channel = LIAISON__V1__NOTICE_CHANNEL__NOTICE_CHANNEL_WEBHOOK;
    const char *address = "";
    if (mobile && *mobile) {
        channel = LIAISON__V1__NOTICE_CHANNEL__NOTICE_CHANNEL_SMS;
        address = mobile;
    } else if (email && *email) {
        channel = LIAISON__V1__NOTICE_CHANNEL__NOTICE_CHANNEL_EMAIL;
        address = email;
    }
    rc.address = (char *)address;
    char notice_id[37], dedup[256], event_id[37];
    bus_uuid7(notice_id);
    if (n->on_behalf)
        snprintf(dedup, sizeof dedup, "%s:%d:%s:%d:for:%s", n->dedup_base, kind, id, channel,
                 n->on_behalf);
    else
        snprintf(dedup, sizeof dedup, "%s:%d:%s:%d", n->dedup_base, kind, id, channel);
    Liaison__V1__NoticeRequested ev = LIAISON__V1__NOTICE_REQUESTED__INIT;
    ev.notice_id = notice_id;
    ev.source_event_id = (char *)n->source_event;
    ev.recipient = &rc;
    ev.channel = channel;
    ev.template_id = (char *)n->template_id;
    ev.params = n->params;
    ev.n_params = n->nparams;
    ev.respect_quiet_hours = channel == LIAISON__V1__NOTICE_CHANNEL__NOTICE_CHANNEL_SMS;
    ev.dedup_key = dedup;
    return s_emit(n->ob, &ev.base, n->court, n->item, n->source_event, n->correlation, n->now_us,
                  event_id);
}

int deadline_fire(PGconn *conn, deadline_ctx_t *ctx, const char *const *ids, size_t n, size_t limit,
                  int64_t now_us, int64_t sweep_grace_us, const char *by, size_t *fired,
                  deadline_timer_t **later, size_t *nlater, char **error)
{
    *fired = 0;
    *later = NULL;
    *nlater = 0;
    char now_s[24], limit_s[16], before_s[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_us);
    snprintf(before_s, sizeof before_s, "%lld", (long long)(now_us - sweep_grace_us));
    snprintf(limit_s, sizeof limit_s, "%zu", limit);
    sbuf_t a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0};
    PGresult *sel = NULL, *upd = NULL, *rcpt = NULL;
    deadline_outbox_t *ob = NULL;
    const char **fired_ids = NULL;
    unsigned *whos = NULL;
    int rc = -1;

    int64_t t0 = clock_mono_us(), t_sel = 0, t_upd = 0, t_rcpt = 0, t_build = 0, t_hist = 0;
    if (ids) {
        arr_open(&a1);
        for (size_t i = 0; i < n; i++)
            arr_str(&a1, ids[i]);
        arr_close(&a1);
        const char *p[1] = {a1.data};
        sel = pg_exec_blocking(conn, s_fire_ids_sql, 1, p, error);
    } else {
        const char *p[2] = {before_s, limit_s};
        sel = pg_exec_blocking(conn, s_fire_sweep_sql, 2, p, error);
    }
    if (!sel)
        goto out;
    t_sel = clock_mono_us();
    int rows = PQntuples(sel);
    /* Each court's rules (whom a stage tells) as its projected row has them
     * now: one read for the courts of the batch, in this transaction. */
    if (rows > 0) {
        const char **courts = calloc((size_t)rows, sizeof *courts);
        if (!courts)
            goto oom;
        for (int i = 0; i < rows; i++)
            courts[i] = PQgetvalue(sel, i, F_COURT);
        qsort(courts, (size_t)rows, sizeof *courts, s_cmp_id);
        arr_open(&a1);
        for (int i = 0; i < rows; i++)
            if (i == 0 || strcmp(courts[i], courts[i - 1]) != 0)
                arr_str(&a1, courts[i]);
        arr_close(&a1);
        free(courts);
        if (a1.failed)
            goto oom;
        if (deadline_court_load_list(conn, ctx, a1.data, error) != 0)
            goto out;
        sb_reset(&a1);
    }
    *later = calloc((size_t)rows + 1, sizeof **later);
    if (!*later)
        goto oom;

    /* The advance of every due row, conditional on its step. */
    arr_open(&a1); /* id */
    arr_open(&a2); /* expected step */
    arr_open(&a3); /* new stage */
    arr_open(&a4); /* urge count */
    arr_open(&a5); /* next fire or NULL */
    arr_open(&a6); /* supervising leader */
    int due_rows = 0;
    for (int i = 0; i < rows; i++) {
        int64_t fire_at = atoll(PQgetvalue(sel, i, F_FIRE_AT));
        if (fire_at > now_us || PQgetisnull(sel, i, F_KIND)) {
            deadline_timer_t *t = &(*later)[(*nlater)++];
            snprintf(t->id, sizeof t->id, "%s", PQgetvalue(sel, i, F_ID));
            t->at_us = fire_at;
            continue;
        }
        const char *kind = PQgetvalue(sel, i, F_KIND);
        const char *stage = s_stage_of(kind);
        if (!stage)
            continue;
        int urges = atoi(PQgetvalue(sel, i, F_URGES));
        if (strncmp(kind, "urge:", 5) == 0)
            urges = atoi(kind + 5);
        arr_str(&a1, PQgetvalue(sel, i, F_ID));
        arr_i64(&a2, atoll(PQgetvalue(sel, i, F_STEP)));
        arr_str(&a3, stage);
        arr_i64(&a4, urges);
        /* Art. 20: no escalation once the department reported its result. */
        bool stop = PQgetisnull(sel, i, F_NEXT_AT) ||
                    (PQgetvalue(sel, i, F_REPORTED)[0] == 't' &&
                     strcmp(PQgetvalue(sel, i, F_NEXT_KIND), "escalate") == 0);
        if (stop)
            arr_null(&a5);
        else
            arr_i64(&a5, atoll(PQgetvalue(sel, i, F_NEXT_AT)));
        arr_str(&a6, PQgetvalue(sel, i, F_LEAD_ID));
        due_rows++;
    }
    arr_close(&a1);
    arr_close(&a2);
    arr_close(&a3);
    arr_close(&a4);
    arr_close(&a5);
    arr_close(&a6);
    if (a1.failed || a2.failed || a3.failed || a4.failed || a5.failed || a6.failed)
        goto oom;
    if (due_rows == 0) {
        rc = 0;
        goto out;
    }
    {
        const char *p[7] = {now_s, a1.data, a2.data, a3.data, a4.data, a5.data, a6.data};
        upd = pg_exec_blocking(
            conn,
            "UPDATE deadline d SET stage = u.stage, urge_count = u.uc, next_step = u.step + 1, "
            "  next_fire_at = u.nf, updated_at_us = $1::bigint, "
            "  supervising_leader_id = CASE WHEN u.stage = 'escalated' THEN u.lead "
            "                          ELSE d.supervising_leader_id END "
            "FROM unnest($2::uuid[], $3::int[], $4::text[], $5::int[], $6::bigint[], $7::text[]) "
            "  AS u(id, step, stage, uc, nf, lead) "
            "WHERE d.id = u.id AND d.next_step = u.step AND d.stage NOT IN ('met', 'cancelled') "
            "RETURNING d.id",
            7, p, error);
    }
    if (!upd)
        goto out;
    t_upd = clock_mono_us();
    int nup = PQntuples(upd);
    fired_ids = calloc((size_t)nup + 1, sizeof *fired_ids);
    if (!fired_ids)
        goto oom;
    for (int i = 0; i < nup; i++)
        fired_ids[i] = PQgetvalue(upd, i, 0);
    qsort(fired_ids, (size_t)nup, sizeof *fired_ids, s_cmp_id);

    /* Whom each fired stage tells: its court's rules as they are now (the
     * court's notify-* overrides). The president and the deputies' liaison
     * officers, which only some rules name, are resolved for the batch at
     * once (s_recipients_sql), and only when some stage names them. */
    whos = calloc((size_t)rows + 1, sizeof *whos);
    if (!whos)
        goto oom;
    arr_open(&a1); /* courts whose president a stage names */
    arr_open(&a2); /* items whose deputies' officers a stage names */
    pthread_rwlock_rdlock(&ctx->lock);
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(sel, i, F_ID);
        if (!bsearch(&id, fired_ids, (size_t)nup, sizeof *fired_ids, s_cmp_id))
            continue;
        const char *court = PQgetvalue(sel, i, F_COURT);
        domain_rule_id_t rule_id;
        deadline_court_view_t view;
        char why[160];
        if (domain_rule_parse(PQgetvalue(sel, i, F_RULE), &rule_id) == 0 &&
            deadline_court_acquire(ctx, ctx->calendar, court, &view, why, sizeof why) == 0) {
            whos[i] = domain_rule_stage_notify(domain_rules_get(view.rules, rule_id),
                                               PQgetvalue(sel, i, F_KIND));
            deadline_court_release(&view);
        } else {
            whos[i] = domain_rule_stage_notify(NULL, PQgetvalue(sel, i, F_KIND));
        }
        if (whos[i] & DOMAIN_NOTIFY_PRESIDENT)
            arr_str(&a1, court);
        if (whos[i] & DOMAIN_NOTIFY_LIAISON_OFFICER)
            arr_str(&a2, PQgetvalue(sel, i, F_ITEM));
    }
    pthread_rwlock_unlock(&ctx->lock);
    bool want = a1.len > 1 || a2.len > 1;
    arr_close(&a1);
    arr_close(&a2);
    if (a1.failed || a2.failed)
        goto oom;
    if (want) {
        const char *p[2] = {a1.data, a2.data};
        rcpt = pg_exec_blocking(conn, s_recipients_sql, 2, p, error);
        if (!rcpt)
            goto out;
    }
    t_rcpt = clock_mono_us();

    ob = deadline_outbox_new();
    if (!ob)
        goto oom;
    arr_open(&a1); /* history: deadline */
    arr_open(&a2); /* step */
    arr_open(&a3); /* kind */
    arr_open(&a4); /* event id */
    arr_open(&a5); /* scheduled */
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(sel, i, F_ID);
        if (!bsearch(&id, fired_ids, (size_t)nup, sizeof *fired_ids, s_cmp_id))
            continue;
        const char *kind = PQgetvalue(sel, i, F_KIND);
        const char *court = PQgetvalue(sel, i, F_COURT);
        const char *item = PQgetvalue(sel, i, F_ITEM);
        const char *dept = PQgetvalue(sel, i, F_DEPT);
        int64_t at = atoll(PQgetvalue(sel, i, F_AT));
        domain_date_t due_date = {0};
        domain_date_parse(PQgetvalue(sel, i, F_DUE_DATE), &due_date);
        Liaison__V1__LocalDate ld = s_local_date(due_date);
        char event_id[37];
        int e = 0;
        const char *stage = s_stage_of(kind);
        int urge_n =
            strncmp(kind, "urge:", 5) == 0 ? atoi(kind + 5) : atoi(PQgetvalue(sel, i, F_URGES));
        int stage_enum = deadline_stage_enum(stage, urge_n);
        bool stops = PQgetisnull(sel, i, F_NEXT_AT) ||
                     (PQgetvalue(sel, i, F_REPORTED)[0] == 't' &&
                      strcmp(PQgetvalue(sel, i, F_NEXT_KIND), "escalate") == 0);
        const unsigned who = whos[i];
        const char *template_id = "deadline.due";
        if (strncmp(kind, "remind:", 7) == 0) {
            Liaison__V1__DeadlineReminded ev = LIAISON__V1__DEADLINE_REMINDED__INIT;
            ev.deadline_id = (char *)id;
            ev.item_id = (char *)item;
            ev.stage = stage_enum;
            ev.days_before = atoi(kind + 7);
            ev.due_date = &ld;
            e = s_emit(ob, &ev.base, court, item, "", NULL, now_us, event_id);
            template_id = "deadline.remind";
        } else if (strcmp(kind, "due") == 0) {
            Liaison__V1__DeadlineDue ev = LIAISON__V1__DEADLINE_DUE__INIT;
            ev.deadline_id = (char *)id;
            ev.item_id = (char *)item;
            ev.stage = stage_enum;
            ev.due_date = &ld;
            ev.due_at_us = atoll(PQgetvalue(sel, i, F_DUE_US));
            e = s_emit(ob, &ev.base, court, item, "", NULL, now_us, event_id);
            template_id = "deadline.due";
        } else if (strncmp(kind, "urge:", 5) == 0) {
            Liaison__V1__DeadlineUrged ev = LIAISON__V1__DEADLINE_URGED__INIT;
            Liaison__V1__Actor actor = LIAISON__V1__ACTOR__INIT;
            actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM;
            actor.name = (char *)DEADLINE_PRODUCER;
            ev.deadline_id = (char *)id;
            ev.item_id = (char *)item;
            ev.stage = stage_enum;
            ev.urge_number = urge_n;
            ev.department_id = (char *)dept;
            bool next_is_urge = !stops && strncmp(PQgetvalue(sel, i, F_NEXT_KIND), "urge:", 5) == 0;
            ev.next_urge_at_us = next_is_urge ? atoll(PQgetvalue(sel, i, F_NEXT_AT)) : 0;
            ev.by = &actor;
            e = s_emit(ob, &ev.base, court, item, "", NULL, now_us, event_id);
            template_id = "deadline.urge";
        } else {
            Liaison__V1__DeadlineEscalated ev = LIAISON__V1__DEADLINE_ESCALATED__INIT;
            ev.deadline_id = (char *)id;
            ev.item_id = (char *)item;
            ev.stage = stage_enum;
            ev.urge_count = atoi(PQgetvalue(sel, i, F_URGES));
            ev.department_id = (char *)dept;
            ev.supervising_leader_id = PQgetvalue(sel, i, F_LEAD_ID);
            ev.supervising_leader_name = PQgetvalue(sel, i, F_LEAD_NAME);
            e = s_emit(ob, &ev.base, court, item, "", NULL, now_us, event_id);
            template_id = "deadline.escalate";
        }
        if (e != 0)
            break;

        /* Notices, recipients resolved from the directory projection. */
        char urge_s[8], due_s[DOMAIN_DATE_STRLEN], dedup_base[96];
        snprintf(urge_s, sizeof urge_s, "%d", urge_n);
        s_date_str(due_date, due_s);
        snprintf(dedup_base, sizeof dedup_base, "deadline:%s:%s", id, kind);
        Liaison__V1__TemplateParam tp[8];
        Liaison__V1__TemplateParam *ptp[8];
        const char *keys[8] = {"registration_number", "rule",        "due_date",     "stage",
                               "department",          "urge_number", "on_behalf_of", "unresolved"};
        const char *vals[8] = {PQgetvalue(sel, i, F_REGNUM),
                               PQgetvalue(sel, i, F_RULE),
                               due_s,
                               kind,
                               PQgetvalue(sel, i, F_DEPT_NAME),
                               urge_s,
                               "",
                               ""};
        for (int k = 0; k < 8; k++) {
            liaison__v1__template_param__init(&tp[k]);
            tp[k].key = (char *)keys[k];
            tp[k].value = (char *)vals[k];
            ptp[k] = &tp[k];
        }
        notice_ctx_t nc = {.ob = ob,
                           .court = court,
                           .item = item,
                           .source_event = event_id,
                           .template_id = template_id,
                           .dedup_base = dedup_base,
                           .params = ptp,
                           .nparams = 6,
                           .now_us = now_us};
        const char *lo_id = PQgetvalue(sel, i, F_LO_ID);
        const char *lo_name =
            *PQgetvalue(sel, i, F_LO_NAME) ? PQgetvalue(sel, i, F_LO_NAME) : "联络办";
        const char *head = PQgetvalue(sel, i, F_HEAD_ID), *lead = PQgetvalue(sel, i, F_LEAD_ID);
        /* the liaison office is always reachable (the court's OA) */
        unsigned resolved = DOMAIN_NOTIFY_LIAISON_OFFICE;
        if (who & DOMAIN_NOTIFY_LIAISON_OFFICE)
            e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_LIAISON_OFFICE, lo_id,
                          lo_name, "", "");
        if ((who & DOMAIN_NOTIFY_DEPARTMENT) && *dept) {
            resolved |= DOMAIN_NOTIFY_DEPARTMENT;
            e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_DEPARTMENT, dept,
                          PQgetvalue(sel, i, F_DEPT_NAME), "", "");
        }
        if ((who & DOMAIN_NOTIFY_DEPARTMENT_HEAD) && *head) {
            resolved |= DOMAIN_NOTIFY_DEPARTMENT_HEAD;
            e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF, head,
                          PQgetvalue(sel, i, F_HEAD_NAME), PQgetvalue(sel, i, F_HEAD_MOBILE),
                          PQgetvalue(sel, i, F_HEAD_EMAIL));
        }
        if ((who & DOMAIN_NOTIFY_SUPERVISING_LEADER) && *lead) {
            resolved |= DOMAIN_NOTIFY_SUPERVISING_LEADER;
            e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_COURT_LEADER, lead,
                          PQgetvalue(sel, i, F_LEAD_NAME), PQgetvalue(sel, i, F_LEAD_MOBILE),
                          PQgetvalue(sel, i, F_LEAD_EMAIL));
        }
        /* 院长: a court leader, as the supervising leader is. */
        int r0, r1;
        if (who & DOMAIN_NOTIFY_PRESIDENT) {
            s_resolved(rcpt, 'p', court, &r0, &r1);
            for (int r = r0; r < r1; r++) {
                resolved |= DOMAIN_NOTIFY_PRESIDENT;
                e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_COURT_LEADER,
                              PQgetvalue(rcpt, r, R_ID), PQgetvalue(rcpt, r, R_NAME),
                              PQgetvalue(rcpt, r, R_MOBILE), PQgetvalue(rcpt, r, R_EMAIL));
            }
        }
        /* 挂点联络员: one notice per distinct officer of the item's deputies. */
        if (who & DOMAIN_NOTIFY_LIAISON_OFFICER) {
            s_resolved(rcpt, 'o', item, &r0, &r1);
            for (int r = r0; r < r1; r++) {
                resolved |= DOMAIN_NOTIFY_LIAISON_OFFICER;
                e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF,
                              PQgetvalue(rcpt, r, R_ID), PQgetvalue(rcpt, r, R_NAME),
                              PQgetvalue(rcpt, r, R_MOBILE), PQgetvalue(rcpt, r, R_EMAIL));
            }
        }
        /* A recipient the rule names but the directory does not (no
         * president on record, no paired officer, no department yet) is not
         * dropped: the liaison office is told on its behalf, with the reason,
         * and the metric counts it. */
        unsigned unresolved = domain_notify_unresolved(who, resolved);
        for (unsigned b = 1; unresolved && b <= DOMAIN_NOTIFY_LIAISON_OFFICER; b <<= 1) {
            if (!(unresolved & b))
                continue;
            const char *named = domain_notify_name((domain_notify_t)b);
            metrics_inc(metrics_series(ctx->m_unresolved, named));
            tp[6].value = (char *)named;
            tp[7].value = (char *)domain_notify_unresolved_reason((domain_notify_t)b);
            nc.nparams = 8;
            nc.on_behalf = named;
            e |= s_notice(&nc, LIAISON__V1__RECIPIENT_KIND__RECIPIENT_KIND_LIAISON_OFFICE, lo_id,
                          lo_name, "", "");
            nc.nparams = 6;
            nc.on_behalf = NULL;
        }
        if (e != 0)
            break;

        arr_str(&a1, id);
        arr_i64(&a2, atoll(PQgetvalue(sel, i, F_STEP)));
        arr_str(&a3, kind);
        arr_str(&a4, event_id);
        arr_i64(&a5, at);
        metrics_observe(ctx->m_lateness, (double)(now_us - at) / 1e6);
        metrics_inc(metrics_series(ctx->m_fired, stage, by));
        (*fired)++;
        if (!stops) {
            deadline_timer_t *t = &(*later)[(*nlater)++];
            snprintf(t->id, sizeof t->id, "%s", id);
            t->at_us = atoll(PQgetvalue(sel, i, F_NEXT_AT));
        }
    }
    arr_close(&a1);
    arr_close(&a2);
    arr_close(&a3);
    arr_close(&a4);
    arr_close(&a5);
    if (*fired != (size_t)nup) {
        *error = strdup("cannot build the stage events");
        goto out;
    }
    t_build = clock_mono_us();
    {
        const char *p[7] = {a1.data, a2.data, a3.data, a4.data, a5.data, now_s, by};
        if (pg_exec_ok(conn,
                       "INSERT INTO deadline_history (deadline_id, step, kind, event_id, "
                       "  scheduled_at_us, fired_at_us, fired_by) "
                       "SELECT u.d, u.s, u.k, u.e, u.a, $6::bigint, $7 "
                       "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::uuid[], $5::bigint[]) "
                       "  AS u(d, s, k, e, a)",
                       7, p, error) != 0)
            goto out;
    }
    t_hist = clock_mono_us();
    size_t events = deadline_outbox_count(ob);
    if (deadline_outbox_flush(ob, conn, error) != 0)
        goto out;
    log_debug("deadline: fired",
              "by=%s rows=%d fired=%zu events=%zu select_ms=%.1f update_ms=%.1f "
              "recipients_ms=%.1f build_ms=%.1f history_ms=%.1f outbox_ms=%.1f",
              by, rows, *fired, events, (double)(t_sel - t0) / 1e3, (double)(t_upd - t_sel) / 1e3,
              (double)(t_rcpt - t_upd) / 1e3, (double)(t_build - t_rcpt) / 1e3,
              (double)(t_hist - t_build) / 1e3, (double)(clock_mono_us() - t_hist) / 1e3);
    rc = 0;
    goto out;
oom:
    if (!*error)
        *error = strdup("out of memory");
out:
    if (rc != 0) {
        free(*later);
        *later = NULL;
        *nlater = 0;
        *fired = 0;
    }
    free(fired_ids);
    free(whos);
    PQclear(sel);
    PQclear(upd);
    PQclear(rcpt);
    deadline_outbox_destroy(&ob);
    sb_release(&a1);
    sb_release(&a2);
    sb_release(&a3);
    sb_release(&a4);
    sb_release(&a5);
    sb_release(&a6);
    return rc;
}

/* ---- recomputing after a calendar change ------------------------------------------- */

int deadline_recompute(PGconn *conn, deadline_ctx_t *ctx, const domain_calendar_t *calendar,
                       int64_t now_us, char **error)
{
    /* Only deadlines not yet due: a stage already announced as due, urged
     * or escalated stays as it was said (DOMAIN.md §4.1 "recompute the
     * deadlines it changes" concerns dates still ahead). Each with its
     * court's rules and own days as they stand now. */
    if (deadline_court_load_all(conn, ctx, error) != 0)
        return -1;
    PGresult *r = pg_exec_blocking(
        conn,
        "SELECT d.id, d.court_id, d.item_id, d.rule_id, d.trigger_date, d.due_date, "
        "  d.provisional, encode(coalesce(d.explanation_pb, ''::bytea), 'hex'), d.time_zone, "
        "  array_to_string(d.schedule_kind[1:d.next_step - 1], ' ') "
        "FROM deadline d WHERE d.stage IN ('pending', 'reminded') ORDER BY d.id FOR UPDATE",
        0, NULL, error);
    if (!r)
        return -1;
    int changed = 0, rc = 0;
    char now_s[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_us);
    deadline_outbox_t *ob = deadline_outbox_new();
    if (!ob) {
        PQclear(r);
        *error = strdup("out of memory");
        return -1;
    }
    pthread_rwlock_rdlock(&ctx->lock);
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        const char *id = PQgetvalue(r, i, 0), *court = PQgetvalue(r, i, 1),
                   *item = PQgetvalue(r, i, 2);
        domain_rule_id_t rule;
        domain_date_t trigger, old_due;
        domain_zone_t zone;
        if (domain_rule_parse(PQgetvalue(r, i, 3), &rule) != 0 ||
            domain_date_parse(PQgetvalue(r, i, 4), &trigger) != 0 ||
            domain_date_parse(PQgetvalue(r, i, 5), &old_due) != 0)
            continue;
        if (domain_zone_find(PQgetvalue(r, i, 8), &zone) != 0)
            domain_zone_find("Asia/Shanghai", &zone);
        bool old_prov = PQgetvalue(r, i, 6)[0] == 't';
        computed_t c;
        char why[200] = "";
        if (s_compute(ctx, calendar, court, rule, trigger, &zone, now_us, PQgetvalue(r, i, 9), &c,
                      why, sizeof why) != 0)
            continue;
        if (domain_date_equal(c.ex.due, old_due) && c.ex.provisional == old_prov) {
            s_computed_release(&c);
            continue;
        }
        sbuf_t kinds = {0}, ats = {0};
        s_schedule_arrays(&c.sched, &kinds, &ats);
        char due[DOMAIN_DATE_STRLEN], due_us[24], old_s[DOMAIN_DATE_STRLEN], detail[160];
        s_date_str(c.ex.due, due);
        s_date_str(old_due, old_s);
        snprintf(due_us, sizeof due_us, "%lld", (long long)c.due_us);
        snprintf(detail, sizeof detail, "due %s%s → %s%s", old_s, old_prov ? " (provisional)" : "",
                 due, c.ex.provisional ? " (provisional)" : "");
        const char *p[10] = {id,     due,      due_us,     c.version, c.ex.provisional ? "t" : "f",
                             c.text, c.pb_hex, kinds.data, ats.data,  now_s};
        rc = pg_exec_ok(conn,
                        "UPDATE deadline SET due_date = $2::date, due_at_us = $3::bigint, "
                        "  calendar_version = $4, provisional = $5::bool, explanation = $6, "
                        "  explanation_pb = decode($7, 'hex'), schedule_kind = $8::text[], "
                        "  schedule_at = $9::bigint[], next_step = 1, "
                        "  next_fire_at = ($9::bigint[])[1], updated_at_us = $10::bigint "
                        "WHERE id = $1::uuid",
                        10, p, error);
        sb_release(&kinds);
        sb_release(&ats);
        size_t plen = 0;
        uint8_t *pbuf = rc == 0 ? s_unhex(PQgetvalue(r, i, 7), &plen) : NULL;
        Liaison__V1__DueDateExplanation *prev =
            pbuf && plen ? liaison__v1__due_date_explanation__unpack(NULL, plen, pbuf) : NULL;
        free(pbuf);
        Liaison__V1__DeadlineRecomputed ev = LIAISON__V1__DEADLINE_RECOMPUTED__INIT;
        Liaison__V1__Actor actor = LIAISON__V1__ACTOR__INIT;
        actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM;
        actor.name = (char *)DEADLINE_PRODUCER;
        ev.deadline_id = (char *)id;
        ev.item_id = (char *)item;
        ev.stage = LIAISON__V1__DEADLINE_STAGE__DEADLINE_STAGE_PENDING;
        ev.cause = LIAISON__V1__RECOMPUTE_CAUSE__RECOMPUTE_CAUSE_CALENDAR_LOADED;
        ev.previous = prev;
        ev.current = &c.pb.msg;
        ev.detail = detail;
        ev.by = &actor;
        char event_id[37];
        if (rc == 0)
            rc = s_emit(ob, &ev.base, court, item, "", NULL, now_us, event_id);
        if (prev)
            liaison__v1__due_date_explanation__free_unpacked(prev, NULL);
        const char *h[4] = {id, event_id, now_s, detail};
        if (rc == 0)
            rc = pg_exec_ok(conn,
                            "INSERT INTO deadline_history (deadline_id, step, kind, event_id, "
                            "fired_at_us, fired_by, detail) VALUES ($1::uuid, 0, 'recomputed', "
                            "$2::uuid, $3::bigint, 'recompute', $4)",
                            4, h, error);
        if (rc == 0) {
            deadline_queue_timer(ctx, id, c.sched.at_us[0]);
            metrics_inc(ctx->m_recomputed);
            changed++;
        }
        s_computed_release(&c);
    }
    pthread_rwlock_unlock(&ctx->lock);
    PQclear(r);
    if (rc == 0 && deadline_outbox_flush(ob, conn, error) != 0)
        rc = -1;
    deadline_outbox_destroy(&ob);
    if (rc != 0 && !*error)
        *error = strdup("cannot record a recomputed deadline");
    return rc == 0 ? changed : -1;
}

/* ---- the calendar file -------------------------------------------------------------- */

domain_calendar_t *deadline_calendar_load(const char *path, char *err, size_t errsize)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "%s: cannot open", path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    char buf[8192];
    size_t n;
    while (m && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, m);
    fclose(f);
    if (!m) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    fclose(m);
    char perr[256] = "";
    domain_calendar_t *cal = domain_calendar_parse(text, len, perr, sizeof perr);
    free(text);
    if (!cal)
        snprintf(err, errsize, "%s: %s", path, perr);
    return cal;
}
