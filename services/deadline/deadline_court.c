/* deadline_court — each court's own rules and calendar (DOMAIN.md §4.1,
 * §4.2: every number is per-court configuration; a court may have its own
 * rest and working days).
 *
 * A court's directory record (intake) holds rule_overrides {"rule.setting":
 * "value"} and calendar_overrides (the lines of a [court ID] section of the
 * work calendar). CourtUpserted carries both; deadline_apply.c checks them
 * (deadline_court_check) and projects them into the court table in the
 * consumer's transaction. A deadline is computed with the regulation's
 * defaults plus the court's overrides, on the shared calendar file plus the
 * court's own days.
 *
 * The cache: one entry per court seen, holding its revision, its rules and,
 * when it has days of its own, a calendar derived from the shared one (a copy
 * with those days added: a few kilobytes a court). Whoever is about to compute
 * a deadline first reads the court's row in its own transaction
 * (deadline_court_load, the query that already gave the court's zone): an
 * entry at another revision is replaced, so a CourtUpserted that changes the
 * court invalidates its entry the next time it is used, and a transaction
 * that was rolled back cannot leave a stale one behind for long. A recompute
 * reads every court's row first (deadline_court_load_all).
 *
 * Entries never change once in the table except for `base`: a change makes a
 * new entry, and the old one is freed when the last computation using it
 * releases it. That is what lets a consumer thread keep explaining a due date
 * with a court's calendar while the other consumer, or the timer thread's
 * recompute with a new calendar file, replaces it. The derived calendar
 * remembers the shared one it came from (`base`); a computation against
 * another shared calendar (a recompute trying a new file) derives a new
 * entry, and deadline_court_calendar_changed() forgets every derivation from
 * a calendar about to be freed, so a later calendar allocated at the same
 * address is never taken for it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "deadline/deadline.h"

struct deadline_court_entry {
    int refs; /* the table's and each view's; under the table's mutex */
    char *court;
    int64_t revision;
    domain_rules_t rules;
    char *calendar_text;           /* "" when the court has no days of its own */
    const domain_calendar_t *base; /* the shared calendar `calendar` was derived from */
    domain_calendar_t *calendar;   /* NULL until derived, or when calendar_text is "" */
};

struct deadline_courts {
    pthread_mutex_t mutex;
    deadline_court_entry_t **v;
    size_t n, cap;
};

static void s_entry_free(deadline_court_entry_t *e)
{
    if (!e)
        return;
    free(e->court);
    free(e->calendar_text);
    domain_calendar_destroy(&e->calendar);
    free(e);
}

/* Drops one reference; call with the mutex held. */
static void s_unref(deadline_court_entry_t *e)
{
    if (e && --e->refs == 0)
        s_entry_free(e);
}

deadline_courts_t *deadline_courts_new(void)
{
    deadline_courts_t *self = calloc(1, sizeof *self);
    if (self)
        pthread_mutex_init(&self->mutex, NULL);
    return self;
}

void deadline_courts_destroy(deadline_courts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    deadline_courts_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        s_unref(self->v[i]);
    free(self->v);
    pthread_mutex_destroy(&self->mutex);
    free(self);
    *self_p = NULL;
}

/* ---- checking and building ------------------------------------------------------ */

/* The rules of a court: `defaults` with its overrides given as a JSON object
 * text, as the court table holds them. */
static int s_rules_from_json(const domain_rules_t *defaults, const char *json_text,
                             domain_rules_t *out, char *reason, size_t rsize)
{
    json_error_t jerr;
    json_t *obj = json_loads(json_text && *json_text ? json_text : "{}", 0, &jerr);
    if (!obj || !json_is_object(obj) || json_object_size(obj) > DOMAIN_RULES_MAX_OVERRIDES) {
        json_decref(obj);
        snprintf(reason, rsize, "rule_overrides: not an object of at most %d strings",
                 DOMAIN_RULES_MAX_OVERRIDES);
        return -1;
    }
    domain_rule_override_t o[DOMAIN_RULES_MAX_OVERRIDES];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v)) {
            json_decref(obj);
            snprintf(reason, rsize, "rule_overrides.%.60s: not a string", k);
            return -1;
        }
        o[n++] = (domain_rule_override_t){k, json_string_value(v)};
    }
    *out = *defaults;
    char err[200];
    size_t bad = 0;
    int rc = domain_rules_apply(out, o, n, &bad, err, sizeof err);
    if (rc != 0)
        snprintf(reason, rsize, "rule_overrides.%.60s: %s", o[bad].key, err);
    json_decref(obj);
    return rc;
}

/* The court's own days on an empty calendar: checks the text and the court
 * id it will be filed under. */
static int s_calendar_check(const char *court, const char *text, char *reason, size_t rsize)
{
    if (!text || !*text)
        return 0;
    domain_calendar_t *cal = domain_calendar_new();
    char err[256] = "out of memory";
    int rc = cal ? domain_calendar_court_text(cal, court, text, strlen(text), err, sizeof err) : -1;
    domain_calendar_destroy(&cal);
    if (rc != 0)
        snprintf(reason, rsize, "calendar_overrides: %s", err);
    return rc;
}

int deadline_court_check(const Liaison__V1__CourtUpserted *m, char **rules_json, char *reason,
                         size_t reason_size)
{
    *rules_json = NULL;
    if (m->n_rule_overrides > DOMAIN_RULES_MAX_OVERRIDES) {
        snprintf(reason, reason_size, "CourtUpserted %.64s: more than %d rule overrides",
                 m->court_id, DOMAIN_RULES_MAX_OVERRIDES);
        return -1;
    }
    /* The JSON object the court table keeps: a later key replaces an
     * earlier one, as it does when the list is applied in order. */
    json_t *obj = json_object();
    domain_rule_override_t o[DOMAIN_RULES_MAX_OVERRIDES];
    char why[300] = "";
    int rc = obj ? 0 : -1;
    for (size_t i = 0; i < m->n_rule_overrides && rc == 0; i++) {
        const Liaison__V1__RuleOverride *r = m->rule_overrides[i];
        json_t *s = r && r->key && r->value ? json_string(r->value) : NULL;
        if (!s || json_object_set_new(obj, r->key, s) != 0) {
            snprintf(why, sizeof why, "rule override %zu: not a UTF-8 key and value", i + 1);
            rc = -1;
            break;
        }
        o[i] = (domain_rule_override_t){r->key, r->value};
    }
    if (rc == 0) {
        domain_rules_t check;
        domain_rules_defaults(&check);
        char err[200];
        size_t bad = 0;
        if (domain_rules_apply(&check, o, m->n_rule_overrides, &bad, err, sizeof err) != 0) {
            snprintf(why, sizeof why, "rule_overrides.%.60s: %s", o[bad].key, err);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = s_calendar_check(m->court_id, m->calendar_overrides, why, sizeof why);
    if (rc == 0 && !(*rules_json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS))) {
        snprintf(why, sizeof why, "out of memory");
        rc = -1;
    }
    json_decref(obj);
    if (rc != 0)
        snprintf(reason, reason_size, "CourtUpserted %.64s: %s", m->court_id,
                 why[0] ? why : "out of memory");
    return rc;
}

static deadline_court_entry_t *s_entry_new(const char *court, int64_t revision,
                                           const domain_rules_t *rules, const char *calendar_text)
{
    deadline_court_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->refs = 1;
    e->court = strdup(court);
    e->calendar_text = strdup(calendar_text ? calendar_text : "");
    e->revision = revision;
    e->rules = *rules;
    if (!e->court || !e->calendar_text) {
        s_entry_free(e);
        return NULL;
    }
    return e;
}

/* ---- the table ------------------------------------------------------------------- */

/* Call with the mutex held. */
static deadline_court_entry_t **s_find(deadline_courts_t *self, const char *court)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->v[i]->court, court) == 0)
            return &self->v[i];
    return NULL;
}

/* Puts e in the table in place of the court's entry (consumes the
 * reference e was made with). Call with the mutex held. */
static int s_put(deadline_courts_t *self, deadline_court_entry_t *e)
{
    deadline_court_entry_t **slot = s_find(self, e->court);
    if (slot) {
        s_unref(*slot);
        *slot = e;
        return 0;
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        deadline_court_entry_t **v = realloc(self->v, cap * sizeof *v);
        if (!v)
            return -1;
        self->v = v;
        self->cap = cap;
    }
    self->v[self->n++] = e;
    return 0;
}

/* Brings the court's entry to a row of the court table. */
static int s_refresh(deadline_ctx_t *ctx, const char *court, int64_t revision,
                     const char *rules_json, const char *calendar_text, char *reason, size_t rsize)
{
    deadline_courts_t *self = ctx->courts;
    pthread_mutex_lock(&self->mutex);
    deadline_court_entry_t **slot = s_find(self, court);
    bool current = slot && (*slot)->revision == revision;
    pthread_mutex_unlock(&self->mutex);
    if (current)
        return 0;
    domain_rules_t rules;
    if (s_rules_from_json(&ctx->rules, rules_json, &rules, reason, rsize) != 0 ||
        s_calendar_check(court, calendar_text, reason, rsize) != 0) {
        log_warn("deadline: a court's stored overrides are unusable", "court=%s error=%s", court,
                 reason);
        return -1;
    }
    deadline_court_entry_t *e = s_entry_new(court, revision, &rules, calendar_text);
    pthread_mutex_lock(&self->mutex);
    int rc = e ? s_put(self, e) : -1;
    pthread_mutex_unlock(&self->mutex);
    if (rc != 0) {
        s_entry_free(e);
        snprintf(reason, rsize, "out of memory");
        return -1;
    }
    log_debug("deadline: court rules and calendar", "court=%s revision=%lld own_days=%s", court,
              (long long)revision, calendar_text && *calendar_text ? "yes" : "no");
    return 0;
}

int deadline_court_load(PGconn *conn, deadline_ctx_t *ctx, const char *court, domain_zone_t *zone,
                        char *reason, size_t reason_size)
{
    domain_zone_find("Asia/Shanghai", zone);
    const char *p[1] = {court ? court : ""};
    char *err = NULL;
    PGresult *r = pg_exec_blocking(conn,
                                   "SELECT time_zone, revision, rule_overrides::text, "
                                   "  calendar_overrides FROM court WHERE court_id = $1",
                                   1, p, &err);
    if (!r) {
        snprintf(reason, reason_size, "court %s: %s", p[0], err ? err : "query failed");
        free(err);
        return -1;
    }
    int rc = 0;
    if (PQntuples(r) == 1) {
        if (domain_zone_find(PQgetvalue(r, 0, 0), zone) != 0)
            domain_zone_find("Asia/Shanghai", zone);
        rc = s_refresh(ctx, p[0], atoll(PQgetvalue(r, 0, 1)), PQgetvalue(r, 0, 2),
                       PQgetvalue(r, 0, 3), reason, reason_size);
    }
    PQclear(r);
    return rc;
}

int deadline_court_load_all(PGconn *conn, deadline_ctx_t *ctx, char **error)
{
    return deadline_court_load_list(conn, ctx, NULL, error);
}

int deadline_court_load_list(PGconn *conn, deadline_ctx_t *ctx, const char *courts, char **error)
{
    const char *p[1] = {courts};
    PGresult *r = pg_exec_blocking(conn,
                                   "SELECT court_id, revision, rule_overrides::text, "
                                   "  calendar_overrides FROM court "
                                   "WHERE $1::text[] IS NULL OR court_id = ANY($1::text[]) "
                                   "ORDER BY court_id",
                                   1, p, error);
    if (!r)
        return -1;
    /* A court whose stored overrides are unusable keeps its entry as it
     * was (logged): one bad court does not stop every other's recompute. */
    for (int i = 0; i < PQntuples(r); i++) {
        char reason[300];
        s_refresh(ctx, PQgetvalue(r, i, 0), atoll(PQgetvalue(r, i, 1)), PQgetvalue(r, i, 2),
                  PQgetvalue(r, i, 3), reason, sizeof reason);
    }
    PQclear(r);
    return 0;
}

int deadline_court_acquire(deadline_ctx_t *ctx, const domain_calendar_t *base, const char *court,
                           deadline_court_view_t *view, char *reason, size_t reason_size)
{
    deadline_courts_t *self = ctx->courts;
    memset(view, 0, sizeof *view);
    view->rules = &ctx->rules;
    view->calendar = base;
    if (!self || !court || !*court)
        return 0;
    pthread_mutex_lock(&self->mutex);
    deadline_court_entry_t **slot = s_find(self, court);
    deadline_court_entry_t *e = slot ? *slot : NULL;
    if (e && *e->calendar_text && (e->base != base || !e->calendar)) {
        /* Derive the court's calendar from this shared one, as a new entry
         * (computations may be reading the old one's calendar). Small and
         * rare (once per court and calendar file), so under the mutex. */
        deadline_court_entry_t *d = s_entry_new(e->court, e->revision, &e->rules, e->calendar_text);
        char err[256] = "out of memory";
        if (d && (d->calendar = domain_calendar_copy(base)) &&
            domain_calendar_court_text(d->calendar, court, d->calendar_text,
                                       strlen(d->calendar_text), err, sizeof err) == 0) {
            d->base = base;
            s_unref(*slot);
            *slot = e = d;
        } else {
            pthread_mutex_unlock(&self->mutex);
            s_entry_free(d);
            snprintf(reason, reason_size, "court %s: its own days: %s", court, err);
            return -1;
        }
    }
    if (e) {
        e->refs++;
        view->rules = &e->rules;
        if (e->calendar)
            view->calendar = e->calendar;
        view->courts = self;
        view->entry = e;
    }
    pthread_mutex_unlock(&self->mutex);
    return 0;
}

void deadline_court_release(deadline_court_view_t *view)
{
    if (!view || !view->entry)
        return;
    pthread_mutex_lock(&view->courts->mutex);
    s_unref(view->entry);
    pthread_mutex_unlock(&view->courts->mutex);
    memset(view, 0, sizeof *view);
}

void deadline_court_calendar_changed(deadline_ctx_t *ctx, const domain_calendar_t *current)
{
    deadline_courts_t *self = ctx->courts;
    if (!self)
        return;
    pthread_mutex_lock(&self->mutex);
    for (size_t i = 0; i < self->n; i++)
        if (self->v[i]->base != current)
            self->v[i]->base = NULL; /* derived again at the next acquire */
    pthread_mutex_unlock(&self->mutex);
}
