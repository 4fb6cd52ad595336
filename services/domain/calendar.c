/* domain_calendar — the work calendar. See calendar.h and
 * deploy/calendar/README.md for the file format. */
#include "domain/calendar.h"
#include "domain/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_FILE   (1024 * 1024) /* bytes of calendar text */
#define S_MAX_DAYS   200000        /* declared days (ranges expanded) per calendar */
#define S_MAX_COURTS 1024
/* Bytes of all per-court day tables together: a few courts with a few years
 * need kilobytes; this bounds what hostile input can make us allocate. */
#define S_MAX_COURT_TABLES (64u * 1024 * 1024)
#define S_MAX_NAMES        2048 /* distinct names (a real calendar has a few dozen) */

/* One declared day: a rest day or a make-up working day. */
typedef struct {
    int32_t day;
    uint8_t kind; /* DOMAIN_DAY_HOLIDAY or a working kind */
    uint16_t name;
    int line; /* 0 when added through the API */
} s_entry_t;

typedef struct {
    s_entry_t *v;
    size_t n, cap;
} s_entries_t;

typedef struct {
    int year;
    char *notice;
} s_year_t;

typedef struct {
    char id[DOMAIN_CALENDAR_MAX_COURT];
    s_entries_t entries;
    uint8_t *kind;
    uint16_t *name;
} s_court_t;

struct domain_calendar {
    char version[DOMAIN_CALENDAR_MAX_VERSION];
    s_year_t *years; /* sorted by year after build */
    size_t nyears, capyears;
    s_entries_t entries; /* the national notices' days */
    char **names;        /* names[0] is unused: "no name" */
    size_t *name_len;
    size_t nnames, capnames;
    s_court_t *courts;
    size_t ncourts, capcourts;
    /* the built per-day tables */
    int32_t first, count;
    uint8_t *kind;
    uint16_t *name;
};

const char *domain_day_kind_name(domain_day_kind_t kind)
{
    switch (kind) {
    case DOMAIN_DAY_WORK:
        return "work";
    case DOMAIN_DAY_MAKEUP_WORK:
        return "makeup-work";
    case DOMAIN_DAY_WEEKEND:
        return "weekend";
    case DOMAIN_DAY_HOLIDAY:
        return "holiday";
    case DOMAIN_DAY_UNKNOWN:
        break;
    }
    return "unknown";
}

bool domain_day_kind_is_rest(domain_day_kind_t kind)
{
    return kind == DOMAIN_DAY_WEEKEND || kind == DOMAIN_DAY_HOLIDAY;
}

/* ---- small helpers -------------------------------------------------------- */

static void s_err(char *err, size_t errsize, int line, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    size_t off = 0;
    if (line > 0) {
        int n = snprintf(err, errsize, "line %d: ", line);
        off = n > 0 && (size_t)n < errsize ? (size_t)n : errsize - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + off, errsize - off, fmt, ap);
    va_end(ap);
}

static bool s_utf8_valid(const unsigned char *p, size_t n)
{
    return domain_utf8_valid((const char *)p, n);
}

static bool s_is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int s_entries_push(s_entries_t *e, s_entry_t entry)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        s_entry_t *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return -1;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = entry;
    return 0;
}

static int s_entry_cmp(const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    /* keep file order for equal days so the later line is reported */
    return (x->line > y->line) - (x->line < y->line);
}

static int s_year_cmp(const void *a, const void *b)
{
    const s_year_t *x = a, *y = b;
    return (x->year > y->year) - (x->year < y->year);
}

/* Interns a name; returns its index (>= 1) or 0 on failure. */
static uint16_t s_intern(domain_calendar_t *self, const char *name, size_t len)
{
    /* Linear, newest first: names repeat in runs, and S_MAX_NAMES keeps the
     * worst case of hostile input small. */
    for (size_t i = self->nnames - 1; i >= 1; i--)
        if (self->name_len[i] == len && memcmp(self->names[i], name, len) == 0)
            return (uint16_t)i;
    if (self->nnames >= S_MAX_NAMES)
        return 0;
    if (self->nnames == self->capnames) {
        size_t cap = self->capnames ? self->capnames * 2 : 32;
        char **v = realloc(self->names, cap * sizeof *v);
        if (!v)
            return 0;
        self->names = v;
        size_t *l = realloc(self->name_len, cap * sizeof *l);
        if (!l)
            return 0;
        self->name_len = l;
        self->capnames = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, name, len);
    copy[len] = '\0';
    self->names[self->nnames] = copy;
    self->name_len[self->nnames] = len;
    return (uint16_t)self->nnames++;
}

static s_year_t *s_year_find(const domain_calendar_t *self, int year)
{
    for (size_t i = 0; i < self->nyears; i++)
        if (self->years[i].year == year)
            return &self->years[i];
    return NULL;
}

static s_court_t *s_court_find(const domain_calendar_t *self, const char *court)
{
    if (!court)
        return NULL;
    for (size_t i = 0; i < self->ncourts; i++)
        if (strcmp(self->courts[i].id, court) == 0)
            return &self->courts[i];
    return NULL;
}

static bool s_court_id_valid(const char *id, size_t len)
{
    if (len == 0 || len >= DOMAIN_CALENDAR_MAX_COURT)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c >= 0x80;
        if (!ok)
            return false;
    }
    return s_utf8_valid((const unsigned char *)id, len);
}

static bool s_text_valid(const char *name, size_t len, size_t max)
{
    if (len == 0 || len >= max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7F)
            return false;
    }
    return s_utf8_valid((const unsigned char *)name, len);
}

static bool s_name_valid(const char *name, size_t len)
{
    return s_text_valid(name, len, DOMAIN_CALENDAR_MAX_NAME);
}

static s_court_t *s_court_add(domain_calendar_t *self, const char *id, size_t len)
{
    if (self->ncourts >= S_MAX_COURTS)
        return NULL;
    if (self->ncourts == self->capcourts) {
        size_t cap = self->capcourts ? self->capcourts * 2 : 8;
        s_court_t *v = realloc(self->courts, cap * sizeof *v);
        if (!v)
            return NULL;
        self->courts = v;
        self->capcourts = cap;
    }
    s_court_t *c = &self->courts[self->ncourts++];
    memset(c, 0, sizeof *c);
    memcpy(c->id, id, len);
    c->id[len] = '\0';
    return c;
}

/* ---- building the per-day tables ----------------------------------------- */

static void s_apply(domain_calendar_t *self, uint8_t *kind, uint16_t *name, const s_entries_t *e,
                    bool court)
{
    for (size_t i = 0; i < e->n; i++) {
        uint32_t k = (uint32_t)(e->v[i].day - self->first);
        if (k >= (uint32_t)self->count || kind[k] == DOMAIN_DAY_UNKNOWN)
            continue; /* a day in a year without a notice stays unknown */
        uint8_t v = e->v[i].kind;
        if (v != DOMAIN_DAY_HOLIDAY) {
            domain_weekday_t w = domain_date_weekday(domain_date_from_days(e->v[i].day));
            v = (w >= DOMAIN_SATURDAY) ? DOMAIN_DAY_MAKEUP_WORK : DOMAIN_DAY_WORK;
            if (!court && v == DOMAIN_DAY_WORK)
                continue; /* refused by the parser; defensive */
        }
        kind[k] = v;
        name[k] = e->v[i].name;
    }
}

static int s_build_court(domain_calendar_t *self, s_court_t *c)
{
    free(c->kind);
    free(c->name);
    c->kind = NULL;
    c->name = NULL;
    if (self->count == 0 || c->entries.n == 0)
        return 0; /* no table: the court uses the national one */
    c->kind = malloc((size_t)self->count);
    c->name = malloc((size_t)self->count * sizeof *c->name);
    if (!c->kind || !c->name)
        return -1;
    memcpy(c->kind, self->kind, (size_t)self->count);
    memcpy(c->name, self->name, (size_t)self->count * sizeof *c->name);
    s_apply(self, c->kind, c->name, &c->entries, true);
    return 0;
}

static int s_build(domain_calendar_t *self)
{
    free(self->kind);
    free(self->name);
    self->kind = NULL;
    self->name = NULL;
    self->count = 0;
    if (self->nyears > 0) {
        qsort(self->years, self->nyears, sizeof *self->years, s_year_cmp);
        int y0 = self->years[0].year, y1 = self->years[self->nyears - 1].year;
        self->first = domain_date_to_days(domain_date(y0, 1, 1));
        self->count = domain_date_to_days(domain_date(y1, 12, 31)) - self->first + 1;
        self->kind = malloc((size_t)self->count);
        self->name = calloc((size_t)self->count, sizeof *self->name);
        if (!self->kind || !self->name)
            return -1;
        size_t yi = 0;
        for (int32_t i = 0; i < self->count; i++) {
            domain_date_t d = domain_date_from_days(self->first + i);
            while (yi < self->nyears && self->years[yi].year < d.year)
                yi++;
            bool known = yi < self->nyears && self->years[yi].year == d.year;
            if (!known)
                self->kind[i] = DOMAIN_DAY_UNKNOWN;
            else
                self->kind[i] = domain_date_weekday(d) >= DOMAIN_SATURDAY ? DOMAIN_DAY_WEEKEND
                                                                          : DOMAIN_DAY_WORK;
        }
        s_apply(self, self->kind, self->name, &self->entries, false);
    }
    size_t tables = 0;
    for (size_t i = 0; i < self->ncourts; i++)
        tables += self->courts[i].entries.n > 0;
    if ((uint64_t)tables * (uint64_t)self->count * 3u > S_MAX_COURT_TABLES)
        return -2;
    for (size_t i = 0; i < self->ncourts; i++)
        if (s_build_court(self, &self->courts[i]) < 0)
            return -1;
    return 0;
}

/* Would one more court table stay within S_MAX_COURT_TABLES? */
static bool s_room_for_court_table(const domain_calendar_t *self)
{
    size_t tables = 1;
    for (size_t i = 0; i < self->ncourts; i++)
        tables += self->courts[i].entries.n > 0;
    return (uint64_t)tables * (uint64_t)self->count * 3u <= S_MAX_COURT_TABLES;
}

/* ---- lifecycle ------------------------------------------------------------ */

domain_calendar_t *domain_calendar_new(void)
{
    domain_calendar_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->names = calloc(32, sizeof *self->names);
    self->name_len = calloc(32, sizeof *self->name_len);
    if (!self->names || !self->name_len) {
        free(self->names);
        free(self->name_len);
        free(self);
        return NULL;
    }
    self->capnames = 32;
    self->nnames = 1; /* index 0 = no name */
    return self;
}

void domain_calendar_destroy(domain_calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    domain_calendar_t *self = *self_p;
    for (size_t i = 0; i < self->nyears; i++)
        free(self->years[i].notice);
    free(self->years);
    free(self->entries.v);
    for (size_t i = 1; i < self->nnames; i++)
        free(self->names[i]);
    free(self->names);
    free(self->name_len);
    for (size_t i = 0; i < self->ncourts; i++) {
        free(self->courts[i].entries.v);
        free(self->courts[i].kind);
        free(self->courts[i].name);
    }
    free(self->courts);
    free(self->kind);
    free(self->name);
    free(self);
    *self_p = NULL;
}

/* ---- the parser ----------------------------------------------------------- */

typedef struct {
    domain_calendar_t *cal;
    int line;
    int section; /* 0 none, 1 year, 2 court */
    s_year_t *year;
    int year_line;
    s_court_t *court;
    bool have_version;
    size_t ndays;
    bool court_text; /* one court's own days (domain_calendar_court_text) */
    char *err;
    size_t errsize;
} s_parser_t;

static int s_end_year(s_parser_t *p)
{
    if (p->section == 1 && !p->year->notice) {
        s_err(p->err, p->errsize, p->year_line,
              "[year %d] has no \"notice =\" line naming the State Council notice", p->year->year);
        return -1;
    }
    return 0;
}

static int s_section(s_parser_t *p, const char *s, size_t n)
{
    /* s = "[ ... ]" */
    if (n < 2 || s[n - 1] != ']') {
        s_err(p->err, p->errsize, p->line, "section header must end with ']'");
        return -1;
    }
    s++, n -= 2;
    while (n && s_is_space(*s))
        s++, n--;
    while (n && s_is_space(s[n - 1]))
        n--;
    size_t w = 0;
    while (w < n && !s_is_space(s[w]))
        w++;
    const char *arg = s + w;
    size_t an = n - w;
    while (an && s_is_space(*arg))
        arg++, an--;
    if (p->court_text) {
        s_err(p->err, p->errsize, p->line,
              "a court's own days have no [section] lines: only \"rest = DATE NAME\" and "
              "\"work = DATE NAME\"");
        return -1;
    }
    if (s_end_year(p) < 0)
        return -1;
    if (w == 4 && memcmp(s, "year", 4) == 0) {
        int year = 0;
        bool ok = an == 4;
        for (size_t i = 0; ok && i < 4; i++) {
            ok = arg[i] >= '0' && arg[i] <= '9';
            year = year * 10 + (arg[i] - '0');
        }
        if (!ok || year < DOMAIN_DATE_MIN_YEAR || year > DOMAIN_DATE_MAX_YEAR) {
            s_err(p->err, p->errsize, p->line, "[year N] needs a four-digit year from %d to %d",
                  DOMAIN_DATE_MIN_YEAR, DOMAIN_DATE_MAX_YEAR);
            return -1;
        }
        if (s_year_find(p->cal, year)) {
            s_err(p->err, p->errsize, p->line, "year %d is declared twice", year);
            return -1;
        }
        domain_calendar_t *cal = p->cal;
        if (cal->nyears == cal->capyears) {
            size_t cap = cal->capyears ? cal->capyears * 2 : 8;
            s_year_t *v = realloc(cal->years, cap * sizeof *v);
            if (!v) {
                s_err(p->err, p->errsize, p->line, "out of memory");
                return -1;
            }
            cal->years = v;
            cal->capyears = cap;
        }
        p->year = &cal->years[cal->nyears++];
        p->year->year = year;
        p->year->notice = NULL;
        p->year_line = p->line;
        p->section = 1;
        p->court = NULL;
        return 0;
    }
    if (w == 5 && memcmp(s, "court", 5) == 0) {
        if (!s_court_id_valid(arg, an)) {
            s_err(p->err, p->errsize, p->line,
                  "[court ID] needs an id of 1 to %d letters, digits, '_', '-', '.' or non-ASCII "
                  "characters",
                  DOMAIN_CALENDAR_MAX_COURT - 1);
            return -1;
        }
        char id[DOMAIN_CALENDAR_MAX_COURT];
        memcpy(id, arg, an);
        id[an] = '\0';
        p->court = s_court_find(p->cal, id);
        if (!p->court && !(p->court = s_court_add(p->cal, arg, an))) {
            s_err(p->err, p->errsize, p->line, "too many courts (at most %d)", S_MAX_COURTS);
            return -1;
        }
        p->section = 2;
        p->year = NULL;
        return 0;
    }
    s_err(p->err, p->errsize, p->line,
          "unknown section \"[%.*s]\" (expected [year N] or [court ID])", (int)(n > 40 ? 40 : n),
          s);
    return -1;
}

static int s_day_line(s_parser_t *p, bool rest, const char *v, size_t n)
{
    /* DATE[..DATE] NAME */
    size_t w = 0;
    while (w < n && !s_is_space(v[w]))
        w++;
    domain_date_t a, b;
    if (w == 10) {
        if (domain_date_parse_n(v, 10, &a) < 0)
            goto bad_date;
        b = a;
    } else if (w == 22 && v[10] == '.' && v[11] == '.') {
        if (domain_date_parse_n(v, 10, &a) < 0 || domain_date_parse_n(v + 12, 10, &b) < 0)
            goto bad_date;
    } else {
        goto bad_date;
    }
    const char *name = v + w;
    size_t nn = n - w;
    while (nn && s_is_space(*name))
        name++, nn--;
    if (nn == 0) {
        s_err(p->err, p->errsize, p->line, "%s day needs a name after the date (e.g. \"春节\")",
              rest ? "a rest" : "a working");
        return -1;
    }
    if (!s_name_valid(name, nn)) {
        s_err(p->err, p->errsize, p->line,
              "the name must be 1 to %d bytes of UTF-8 text without control characters",
              DOMAIN_CALENDAR_MAX_NAME - 1);
        return -1;
    }
    int32_t da = domain_date_to_days(a), db = domain_date_to_days(b);
    if (db < da) {
        s_err(p->err, p->errsize, p->line, "the range ends before it starts");
        return -1;
    }
    if (db - da + 1 > DOMAIN_CALENDAR_MAX_RANGE) {
        s_err(p->err, p->errsize, p->line, "a range may span at most %d days",
              DOMAIN_CALENDAR_MAX_RANGE);
        return -1;
    }
    if (p->section == 1) {
        /* A notice may reach a few days into the neighbouring year (元旦
         * blocks have done so), but not further. */
        int y = p->year->year;
        int32_t lo = domain_date_to_days(domain_date(y, 1, 1)) - 31;
        int32_t hi = domain_date_to_days(domain_date(y, 12, 31)) + 31;
        if (da < lo || db > hi) {
            s_err(p->err, p->errsize, p->line,
                  "date outside year %d (a notice may reach at most 31 days into the "
                  "neighbouring year)",
                  y);
            return -1;
        }
    }
    uint16_t idx = s_intern(p->cal, name, nn);
    if (idx == 0) {
        s_err(p->err, p->errsize, p->line, "too many distinct names or out of memory");
        return -1;
    }
    s_entries_t *e = p->section == 1 ? &p->cal->entries : &p->court->entries;
    for (int32_t d = da; d <= db; d++) {
        if (!rest && p->section == 1 &&
            domain_date_weekday(domain_date_from_days(d)) < DOMAIN_SATURDAY) {
            char buf[DOMAIN_DATE_STRLEN];
            s_err(p->err, p->errsize, p->line,
                  "make-up working day %s is not a Saturday or Sunday (weekdays are working days "
                  "already)",
                  domain_date_format(domain_date_from_days(d), buf));
            return -1;
        }
        if (++p->ndays > S_MAX_DAYS) {
            s_err(p->err, p->errsize, p->line, "too many declared days (at most %d)", S_MAX_DAYS);
            return -1;
        }
        s_entry_t entry = {d, rest ? DOMAIN_DAY_HOLIDAY : DOMAIN_DAY_MAKEUP_WORK, idx, p->line};
        if (s_entries_push(e, entry) < 0) {
            s_err(p->err, p->errsize, p->line, "out of memory");
            return -1;
        }
    }
    return 0;
bad_date:
    s_err(p->err, p->errsize, p->line,
          "expected a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD, then a name");
    return -1;
}

static int s_key_line(s_parser_t *p, const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || s[k] == '-' || s[k] == '_'))
        k++;
    size_t eq = k;
    while (eq < n && s_is_space(s[eq]))
        eq++;
    if (k == 0 || eq >= n || s[eq] != '=') {
        s_err(p->err, p->errsize, p->line, "expected \"key = value\" or a [section]");
        return -1;
    }
    const char *v = s + eq + 1;
    size_t vn = n - eq - 1;
    while (vn && s_is_space(*v))
        v++, vn--;
    bool day_key = k == 4 && (memcmp(s, "rest", 4) == 0 || memcmp(s, "work", 4) == 0);
    if (p->court_text && !day_key) {
        s_err(p->err, p->errsize, p->line,
              "unknown key \"%.*s\" (a court's own days are \"rest = DATE NAME\" or \"work = "
              "DATE NAME\")",
              (int)(k > 40 ? 40 : k), s);
        return -1;
    }
    if (k == 7 && memcmp(s, "version", 7) == 0) {
        if (p->section != 0) {
            s_err(p->err, p->errsize, p->line, "\"version\" belongs before the first section");
            return -1;
        }
        if (p->have_version) {
            s_err(p->err, p->errsize, p->line, "\"version\" is given twice");
            return -1;
        }
        if (!s_text_valid(v, vn, DOMAIN_CALENDAR_MAX_VERSION)) {
            s_err(p->err, p->errsize, p->line, "version must be 1 to %d bytes of text",
                  DOMAIN_CALENDAR_MAX_VERSION - 1);
            return -1;
        }
        memcpy(p->cal->version, v, vn);
        p->cal->version[vn] = '\0';
        p->have_version = true;
        return 0;
    }
    if (k == 6 && memcmp(s, "notice", 6) == 0) {
        if (p->section != 1) {
            s_err(p->err, p->errsize, p->line, "\"notice\" belongs in a [year N] section");
            return -1;
        }
        if (p->year->notice) {
            s_err(p->err, p->errsize, p->line, "year %d has two notices", p->year->year);
            return -1;
        }
        if (!s_text_valid(v, vn, DOMAIN_CALENDAR_MAX_NOTICE)) {
            s_err(p->err, p->errsize, p->line, "notice must be 1 to %d bytes of text",
                  DOMAIN_CALENDAR_MAX_NOTICE - 1);
            return -1;
        }
        if (!(p->year->notice = strndup(v, vn))) {
            s_err(p->err, p->errsize, p->line, "out of memory");
            return -1;
        }
        return 0;
    }
    bool rest = k == 4 && memcmp(s, "rest", 4) == 0;
    bool work = k == 4 && memcmp(s, "work", 4) == 0;
    if (rest || work) {
        if (p->section == 0) {
            s_err(p->err, p->errsize, p->line, "\"%s\" belongs in a [year N] or [court ID] section",
                  rest ? "rest" : "work");
            return -1;
        }
        return s_day_line(p, rest, v, vn);
    }
    s_err(p->err, p->errsize, p->line,
          "unknown key \"%.*s\" (expected version, notice, rest or work)", (int)(k > 40 ? 40 : k),
          s);
    return -1;
}

static int s_line(s_parser_t *p, const char *s, size_t n)
{
    if (n > DOMAIN_CALENDAR_MAX_LINE) {
        s_err(p->err, p->errsize, p->line, "line longer than %d bytes", DOMAIN_CALENDAR_MAX_LINE);
        return -1;
    }
    if (memchr(s, '\0', n)) {
        s_err(p->err, p->errsize, p->line, "NUL byte in the text");
        return -1;
    }
    if (!s_utf8_valid((const unsigned char *)s, n)) {
        s_err(p->err, p->errsize, p->line, "invalid UTF-8");
        return -1;
    }
    if (n && s[n - 1] == '\r')
        n--;
    while (n && s_is_space(*s))
        s++, n--;
    /* A comment runs from '#' at the start of a line, or from " #" later. */
    if (n && (*s == '#' || *s == ';'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '#' && s_is_space(s[i - 1])) {
            n = i;
            break;
        }
    while (n && s_is_space(s[n - 1]))
        n--;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            s_err(p->err, p->errsize, p->line, "control character 0x%02x in the text", c);
            return -1;
        }
    }
    if (*s == '[')
        return s_section(p, s, n);
    return s_key_line(p, s, n);
}

/* Two declarations of one day contradict each other or repeat: refuse both. */
static int s_check_duplicates(s_parser_t *p, s_entries_t *e, const char *where)
{
    if (e->n < 2)
        return 0;
    qsort(e->v, e->n, sizeof *e->v, s_entry_cmp);
    for (size_t i = 1; i < e->n; i++) {
        if (e->v[i].day == e->v[i - 1].day) {
            char buf[DOMAIN_DATE_STRLEN];
            s_err(p->err, p->errsize, e->v[i].line, "%s%s is already declared on line %d",
                  domain_date_format(domain_date_from_days(e->v[i].day), buf), where,
                  e->v[i - 1].line);
            return -1;
        }
    }
    return 0;
}

domain_calendar_t *domain_calendar_parse(const char *text, size_t len, char *err, size_t errsize)
{
    if (err && errsize)
        err[0] = '\0';
    if (!text) {
        s_err(err, errsize, 0, "no calendar text");
        return NULL;
    }
    if (len > S_MAX_FILE) {
        s_err(err, errsize, 0, "calendar file larger than %d bytes", S_MAX_FILE);
        return NULL;
    }
    domain_calendar_t *self = domain_calendar_new();
    if (!self) {
        s_err(err, errsize, 0, "out of memory");
        return NULL;
    }
    s_parser_t p = {.cal = self, .err = err, .errsize = errsize};
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a byte-order mark, as some editors write */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        p.line++;
        if (s_line(&p, text + pos, end - pos) < 0)
            goto fail;
        pos = end + 1;
    }
    p.line++;
    if (s_end_year(&p) < 0)
        goto fail;
    if (self->nyears == 0) {
        s_err(err, errsize, 0, "the calendar declares no [year N] section");
        goto fail;
    }
    if (s_check_duplicates(&p, &self->entries, "") < 0)
        goto fail;
    for (size_t i = 0; i < self->ncourts; i++) {
        char where[DOMAIN_CALENDAR_MAX_COURT + 16];
        snprintf(where, sizeof where, " for court %s", self->courts[i].id);
        if (s_check_duplicates(&p, &self->courts[i].entries, where) < 0)
            goto fail;
    }
    int built = s_build(self);
    if (built == -2) {
        s_err(err, errsize, 0,
              "too many courts with their own days for the calendar's span of years");
        goto fail;
    }
    if (built < 0) {
        s_err(err, errsize, 0, "out of memory");
        goto fail;
    }
    return self;
fail:
    domain_calendar_destroy(&self);
    return NULL;
}

/* ---- questions ------------------------------------------------------------ */

const char *domain_calendar_version(const domain_calendar_t *self)
{
    return self ? self->version : "";
}

bool domain_calendar_knows_year(const domain_calendar_t *self, int year)
{
    return self && s_year_find(self, year) != NULL;
}

const char *domain_calendar_notice(const domain_calendar_t *self, int year)
{
    const s_year_t *y = self ? s_year_find(self, year) : NULL;
    return y ? y->notice : NULL;
}

size_t domain_calendar_years(const domain_calendar_t *self, int *years, size_t max)
{
    if (!self)
        return 0;
    for (size_t i = 0; i < self->nyears && i < max; i++)
        years[i] = self->years[i].year;
    return self->nyears;
}

bool domain_calendar_has_court(const domain_calendar_t *self, const char *court)
{
    return self && s_court_find(self, court) != NULL;
}

int domain_calendar_court_day(domain_calendar_t *self, const char *court, domain_date_t date,
                              bool rest, const char *name, char *err, size_t errsize)
{
    if (!self || !court || !s_court_id_valid(court, strnlen(court, DOMAIN_CALENDAR_MAX_COURT))) {
        s_err(err, errsize, 0, "invalid court id");
        return -1;
    }
    if (!domain_date_valid(date)) {
        s_err(err, errsize, 0, "invalid date");
        return -1;
    }
    if (!name || !s_name_valid(name, strnlen(name, DOMAIN_CALENDAR_MAX_NAME))) {
        s_err(err, errsize, 0, "the name must be 1 to %d bytes of UTF-8 text",
              DOMAIN_CALENDAR_MAX_NAME - 1);
        return -1;
    }
    s_court_t *c = s_court_find(self, court);
    if (!c && !(c = s_court_add(self, court, strlen(court)))) {
        s_err(err, errsize, 0, "too many courts");
        return -1;
    }
    if (c->entries.n == 0 && !s_room_for_court_table(self)) {
        s_err(err, errsize, 0,
              "too many courts with their own days for the calendar's span of years");
        return -1;
    }
    int32_t d = domain_date_to_days(date);
    for (size_t i = 0; i < c->entries.n; i++)
        if (c->entries.v[i].day == d) {
            char buf[DOMAIN_DATE_STRLEN];
            s_err(err, errsize, 0, "court %s already overrides %s", court,
                  domain_date_format(date, buf));
            return -1;
        }
    uint16_t idx = s_intern(self, name, strlen(name));
    s_entry_t entry = {d, rest ? DOMAIN_DAY_HOLIDAY : DOMAIN_DAY_MAKEUP_WORK, idx, 0};
    if (idx == 0 || s_entries_push(&c->entries, entry) < 0 || s_build_court(self, c) < 0) {
        s_err(err, errsize, 0, "out of memory");
        return -1;
    }
    return 0;
}

/* Is `day` among the sorted entries? */
static bool s_entries_have(const s_entries_t *e, int32_t day)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->v[mid].day == day)
            return true;
        if (e->v[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Gives `court` the days of `add` (sorted, no day twice), replacing the
 * court's own declaration of any of those days; all or nothing. */
static int s_court_merge(domain_calendar_t *self, const char *court, const s_entries_t *add,
                         char *err, size_t errsize)
{
    s_court_t *c = s_court_find(self, court);
    bool created = false;
    if ((!c || c->entries.n == 0) && !s_room_for_court_table(self)) {
        s_err(err, errsize, 0,
              "too many courts with their own days for the calendar's span of years");
        return -1;
    }
    if (!c) {
        if (!(c = s_court_add(self, court, strlen(court)))) {
            s_err(err, errsize, 0, "too many courts");
            return -1;
        }
        created = true;
    }
    s_entries_t merged = {0}, old = c->entries;
    int rc = 0;
    for (size_t i = 0; i < old.n && rc == 0; i++)
        if (!s_entries_have(add, old.v[i].day))
            rc = s_entries_push(&merged, old.v[i]);
    for (size_t i = 0; i < add->n && rc == 0; i++) {
        s_entry_t e = add->v[i];
        e.line = 0; /* not a line of the file */
        rc = s_entries_push(&merged, e);
    }
    if (rc == 0) {
        c->entries = merged;
        if (s_build_court(self, c) == 0) {
            free(old.v);
            return 0;
        }
        c->entries = old;
        s_build_court(self, c); /* back to the old table, or none: the national one */
    }
    free(merged.v);
    if (created) {
        free(c->kind);
        free(c->name);
        self->ncourts--;
    }
    s_err(err, errsize, 0, "out of memory");
    return -1;
}

int domain_calendar_court_text(domain_calendar_t *self, const char *court, const char *text,
                               size_t len, char *err, size_t errsize)
{
    if (err && errsize)
        err[0] = '\0';
    if (!self || !court || !s_court_id_valid(court, strnlen(court, DOMAIN_CALENDAR_MAX_COURT))) {
        s_err(err, errsize, 0, "invalid court id");
        return -1;
    }
    if (!text)
        len = 0;
    if (len > DOMAIN_CALENDAR_MAX_COURT_TEXT) {
        s_err(err, errsize, 0, "a court's own days take at most %d bytes",
              DOMAIN_CALENDAR_MAX_COURT_TEXT);
        return -1;
    }
    /* Parsed into a scratch court first, so a bad line changes nothing
     * (names it interned stay: they are bounded and harmless). */
    s_court_t scratch;
    memset(&scratch, 0, sizeof scratch);
    s_parser_t p = {.cal = self,
                    .section = 2,
                    .court = &scratch,
                    .court_text = true,
                    .err = err,
                    .errsize = errsize};
    int rc = -1;
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        p.line++;
        if (s_line(&p, text + pos, end - pos) < 0)
            goto out;
        pos = end + 1;
    }
    if (s_check_duplicates(&p, &scratch.entries, "") < 0)
        goto out;
    rc = scratch.entries.n ? s_court_merge(self, court, &scratch.entries, err, errsize) : 0;
out:
    free(scratch.entries.v);
    return rc;
}

int domain_calendar_court_text_check(const char *text, size_t len, char *err, size_t errsize)
{
    domain_calendar_t *cal = domain_calendar_new();
    if (!cal) {
        s_err(err, errsize, 0, "out of memory");
        return -1;
    }
    int rc = domain_calendar_court_text(cal, "check", text, len, err, errsize);
    domain_calendar_destroy(&cal);
    return rc;
}

static int s_entries_copy(s_entries_t *to, const s_entries_t *from)
{
    memset(to, 0, sizeof *to);
    if (from->n == 0)
        return 0;
    if (!(to->v = malloc(from->n * sizeof *to->v)))
        return -1;
    memcpy(to->v, from->v, from->n * sizeof *to->v);
    to->n = to->cap = from->n;
    return 0;
}

static void *s_dup(const void *p, size_t n)
{
    void *q = p && n ? malloc(n) : NULL;
    if (q)
        memcpy(q, p, n);
    return q;
}

domain_calendar_t *domain_calendar_copy(const domain_calendar_t *self)
{
    if (!self)
        return NULL;
    domain_calendar_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    /* Each array is counted only once its parts exist, so destroy() can
     * clean up after a failure at any point. */
    memcpy(c->version, self->version, sizeof c->version);
    c->first = self->first;
    c->count = self->count;
    c->names = calloc(self->capnames, sizeof *c->names);
    c->name_len = calloc(self->capnames, sizeof *c->name_len);
    if (!c->names || !c->name_len)
        goto fail;
    c->capnames = self->capnames;
    c->nnames = 1;
    for (size_t i = 1; i < self->nnames; i++) {
        if (!(c->names[i] = s_dup(self->names[i], self->name_len[i] + 1)))
            goto fail;
        c->name_len[i] = self->name_len[i];
        c->nnames++;
    }
    if (self->nyears) {
        if (!(c->years = calloc(self->nyears, sizeof *c->years)))
            goto fail;
        c->capyears = self->nyears;
        for (size_t i = 0; i < self->nyears; i++) {
            c->years[i].year = self->years[i].year;
            c->nyears++;
            if (self->years[i].notice && !(c->years[i].notice = strdup(self->years[i].notice)))
                goto fail;
        }
    }
    if (s_entries_copy(&c->entries, &self->entries) < 0)
        goto fail;
    if (self->kind && self->count > 0) {
        c->kind = s_dup(self->kind, (size_t)self->count);
        c->name = s_dup(self->name, (size_t)self->count * sizeof *self->name);
        if (!c->kind || !c->name)
            goto fail;
    }
    if (self->ncourts) {
        if (!(c->courts = calloc(self->ncourts, sizeof *c->courts)))
            goto fail;
        c->capcourts = self->ncourts;
        for (size_t i = 0; i < self->ncourts; i++) {
            const s_court_t *from = &self->courts[i];
            s_court_t *to = &c->courts[i];
            c->ncourts++;
            memcpy(to->id, from->id, sizeof to->id);
            if (s_entries_copy(&to->entries, &from->entries) < 0)
                goto fail;
            if (from->kind) {
                to->kind = s_dup(from->kind, (size_t)self->count);
                to->name = s_dup(from->name, (size_t)self->count * sizeof *from->name);
                if (!to->kind || !to->name)
                    goto fail;
            }
        }
    }
    return c;
fail:
    domain_calendar_destroy(&c);
    return NULL;
}

void domain_calendar_view(const domain_calendar_t *self, const char *court,
                          domain_calendar_view_t *view)
{
    memset(view, 0, sizeof *view);
    if (!self)
        return;
    view->calendar = self;
    view->first = self->first;
    view->count = self->count;
    view->kind = self->kind;
    view->name = self->name;
    const s_court_t *c = s_court_find(self, court);
    if (c && c->kind) {
        view->kind = c->kind;
        view->name = c->name;
        view->court_override = true;
    }
}

const char *domain_calendar_view_name(const domain_calendar_view_t *view, int32_t day)
{
    domain_day_kind_t k = domain_calendar_view_kind(view, day);
    if (k == DOMAIN_DAY_UNKNOWN)
        return "未知年份";
    uint16_t idx = view->name[day - view->first];
    if (idx)
        return view->calendar->names[idx];
    return domain_weekday_name_zh(domain_date_weekday(domain_date_from_days(day)));
}

int domain_calendar_day(const domain_calendar_t *self, const char *court, domain_date_t date,
                        domain_day_t *out)
{
    out->kind = DOMAIN_DAY_UNKNOWN;
    out->name = "未知年份";
    out->court_override = false;
    if (!self || !domain_date_valid(date))
        return -1;
    domain_calendar_view_t view;
    domain_calendar_view(self, court, &view);
    int32_t d = domain_date_to_days(date);
    out->kind = domain_calendar_view_kind(&view, d);
    out->name = domain_calendar_view_name(&view, d);
    if (out->kind == DOMAIN_DAY_UNKNOWN)
        return -1;
    if (view.court_override) {
        uint32_t i = (uint32_t)(d - view.first);
        out->court_override = view.kind[i] != self->kind[i] || view.name[i] != self->name[i];
    }
    return 0;
}

bool domain_calendar_is_rest_day(const domain_calendar_t *self, const char *court,
                                 domain_date_t date, bool *known)
{
    domain_day_t day;
    *known = domain_calendar_day(self, court, date, &day) == 0;
    return *known && domain_day_kind_is_rest(day.kind);
}

bool domain_calendar_differs(const domain_calendar_t *a, const domain_calendar_t *b,
                             const char *court, domain_date_t from, domain_date_t to,
                             domain_date_t *first)
{
    if (!domain_date_valid(from) || !domain_date_valid(to))
        return false;
    domain_calendar_view_t va, vb;
    domain_calendar_view(a, court, &va);
    domain_calendar_view(b, court, &vb);
    for (int32_t d = domain_date_to_days(from); d <= domain_date_to_days(to); d++) {
        domain_day_kind_t ka = a ? domain_calendar_view_kind(&va, d) : DOMAIN_DAY_UNKNOWN;
        domain_day_kind_t kb = b ? domain_calendar_view_kind(&vb, d) : DOMAIN_DAY_UNKNOWN;
        bool differ = ka != kb;
        if (!differ && ka != DOMAIN_DAY_UNKNOWN)
            differ =
                strcmp(domain_calendar_view_name(&va, d), domain_calendar_view_name(&vb, d)) != 0;
        if (differ) {
            if (first)
                *first = domain_date_from_days(d);
            return true;
        }
    }
    return false;
}
