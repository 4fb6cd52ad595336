/* config — see config.h. */
#include "common/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

typedef enum {
    T_STRING,
    T_INT,
    T_BOOL,
    T_DURATION,
    T_PORT,
    T_PATH,
    T_ENUM,
} type_t;

enum {
    F_SECRET = 1,   /* never printed; may come from KEY_file */
    F_CONNINFO = 2, /* printed through log_redact_conninfo */
};

/* The key table. Section "*" declares a key of every daemon section; its
 * default may be refined per daemon in s_daemon_defaults. */
typedef struct {
    const char *section;
    const char *key;
    type_t type;
    const char *def;
    int64_t min, max;    /* int: value range; duration: ms range */
    const char *choices; /* enum: "a|b|c" */
    unsigned flags;
} key_def_t;

#define MIB    (1024 * 1024)
#define DAY_MS (24LL * 3600 * 1000)

static const key_def_t s_keys[] = {
    /* deployment mode: production refuses the test clock */
    {"common", "mode", T_ENUM, "production", 0, 0, "production|development|test", 0},
    {"common", "log_level", T_ENUM, "info", 0, 0, "debug|info|warn|error", 0},
    /* real: the system clock; test: real time plus the offset in clock_file */
    {"common", "clock", T_ENUM, "real", 0, 0, "real|test", 0},
    {"common", "clock_file", T_PATH, "var/testclock", 0, 0, NULL, 0},
    /* where each daemon serves its event stream (ARCHITECTURE.md §2): the
     * producer binds it, its consumers connect to it */
    {"common", "bus_intake", T_STRING, "tcp://127.0.0.1:7411", 0, 0, NULL, 0},
    {"common", "bus_routing", T_STRING, "tcp://127.0.0.1:7412", 0, 0, NULL, 0},
    {"common", "bus_deadline", T_STRING, "tcp://127.0.0.1:7413", 0, 0, NULL, 0},
    {"common", "bus_notify", T_STRING, "tcp://127.0.0.1:7414", 0, 0, NULL, 0},
    {"common", "bus_report", T_STRING, "tcp://127.0.0.1:7415", 0, 0, NULL, 0},

    {"*", "http_address", T_STRING, "127.0.0.1", 0, 0, NULL, 0},
    {"*", "http_port", T_PORT, "0", 0, 0, NULL, 0},
    {"*", "http_body_limit", T_INT, "1048576", 1024, 64 * MIB, NULL, 0},
    {"*", "postgres_dsn", T_STRING, "host=127.0.0.1 port=5432 dbname=liaison", 0, 0, NULL,
     F_CONNINFO},
    {"*", "postgres_password", T_STRING, "", 0, 0, NULL, F_SECRET},
    {"*", "redis_host", T_STRING, "127.0.0.1", 0, 0, NULL, 0},
    {"*", "redis_port", T_PORT, "6379", 0, 0, NULL, 0},
    {"*", "redis_password", T_STRING, "", 0, 0, NULL, F_SECRET},
    /* how long SIGTERM waits for requests in flight */
    {"*", "drain_timeout", T_DURATION, "10s", 0, 0, NULL, 0},

    /* intake: worker threads, each with its own Postgres connection */
    {"intake", "workers", T_INT, "8", 1, 64, NULL, 0},
    /* intake: how long the next batch of registrations may wait for those
     * its predecessor answered, while the load goes on (0 = never waits;
     * common/workpool.h, gather_us) */
    {"intake", "batch_gather", T_DURATION, "1ms", 0, 0, NULL, 0},
    /* intake: how long a worker trusts what it read of a token, a court or a
     * deputy; a change made through this daemon is seen at once, one made
     * elsewhere (another instance, the database) within this time (0 = read
     * them for every request) */
    {"intake", "cache_ttl", T_DURATION, "5s", 0, 0, NULL, 0},
    /* intake: a file holding a token ensured as an operator token at start ("" = none) */
    {"intake", "bootstrap_token_file", T_STRING, "", 0, 0, NULL, 0},

    /* routing: worker threads, each with its own Postgres connection (one command
     * = one transaction on one of them) */
    {"routing", "workers", T_INT, "4", 1, 64, NULL, 0},

    /* deadline: the timers (ARCHITECTURE.md §3). The sweep fires overdue
     * rows from PostgreSQL alone: the longest a stage waits when Redis is
     * lost. The horizon is how far ahead the Redis index holds timers. */
    {"deadline", "sweep_interval", T_DURATION, "2s", 0, 0, NULL, 0},
    {"deadline", "horizon", T_DURATION, "1h", 0, 0, NULL, 0},
    {"deadline", "poll_interval", T_DURATION, "10ms", 0, 0, NULL, 0},
    /* deadline: stages fired per transaction, and threads that claim and
     * fire, each with its own connections. Two: while one waits on
     * PostgreSQL the other builds its events, so a 2-core machine keeps
     * both cores busy; 2,000 a transaction halves the commits and round
     * trips per stage against 1,000 (make bench-deadline: 100,000 stages
     * due at once fire at 6,700-8,200/s with 1 x 1,000, 11,600-13,200/s
     * with 2 x 2,000). */
    {"deadline", "fire_batch", T_INT, "2000", 1, 5000, NULL, 0},
    {"deadline", "fire_workers", T_INT, "2", 1, 16, NULL, 0},
    {"deadline", "redis_prefix", T_STRING, "liaison:deadline:", 0, 0, NULL, 0},
    /* deadline: court-local time of day of reminders, urgings, escalation */
    {"deadline", "notice_time", T_DURATION, "9h", 0, 0, NULL, 0},
    /* deadline: the window of the "due soon" gauge */
    {"deadline", "due_soon", T_DURATION, "3d", 0, 0, NULL, 0},
    {"deadline", "calendar_file", T_PATH, "deploy/calendar/work-calendar.txt", 0, 0, NULL, 0},

    /* routing: worker threads, each with its own Postgres connection (one command
     * = one transaction on one of them) */
    {"routing", "workers", T_INT, "4", 1, 64, NULL, 0},
};

static const char *const s_daemons[] = {"intake", "routing", "deadline", "notify", "report"};
#define N_DAEMONS (sizeof s_daemons / sizeof s_daemons[0])

static const struct {
    const char *section, *key, *def;
} s_daemon_defaults[] = {
    {"intake", "http_port", "7401"},
    {"routing", "http_port", "7402"},
    {"deadline", "http_port", "7403"},
    {"notify", "http_port", "7404"},
    {"report", "http_port", "7405"},
    {"intake", "postgres_dsn", "host=127.0.0.1 port=5432 dbname=liaison user=liaison_intake"},
    {"routing", "postgres_dsn", "host=127.0.0.1 port=5432 dbname=liaison user=liaison_routing"},
    {"deadline", "postgres_dsn", "host=127.0.0.1 port=5432 dbname=liaison user=liaison_deadline"},
    {"notify", "postgres_dsn", "host=127.0.0.1 port=5432 dbname=liaison user=liaison_notify"},
    {"report", "postgres_dsn", "host=127.0.0.1 port=5432 dbname=liaison user=liaison_report"},
};

/* Duration ranges (ms), kept out of the table's initialisers for clarity. */
static void duration_range(const char *key, int64_t *min, int64_t *max)
{
    *min = 0;
    *max = 365 * DAY_MS;
    if (strcmp(key, "drain_timeout") == 0)
        *max = 10 * 60 * 1000;
}

/* One (section, key) of a loaded configuration. */
typedef struct {
    const key_def_t *def;
    const char *section; /* static */
    char *text;          /* the value as text */
    int64_t num;         /* int, port, duration (ms) */
    bool flag;           /* bool */
    int line;            /* line in the file, 0 if not from the file */
    int file_line;       /* line of KEY_file, 0 if none */
    char *origin;        /* "default", "FILE:LINE", "environment NAME" */
} entry_t;

struct config_t {
    char *path;
    entry_t *entries;
    size_t n_entries;
};

typedef struct {
    char *data;
    size_t len, cap;
} errbuf_t;

static void err_add(errbuf_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_add(errbuf_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t need = e->len + (size_t)n + 2;
    if (need > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        char *data = realloc(e->data, cap);
        if (!data) {
            free(msg);
            return;
        }
        e->data = data;
        e->cap = cap;
    }
    if (e->len)
        e->data[e->len++] = '\n';
    memcpy(e->data + e->len, msg, (size_t)n + 1);
    e->len += (size_t)n;
    free(msg);
}

/* ---- values ------------------------------------------------------------ */

int config_parse_duration_ms(const char *text, int64_t *ms)
{
    if (!text || !*text)
        return -1;
    if (strcmp(text, "0") == 0) {
        *ms = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = text;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*p++ - '0');
        }
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else if (*p == 'd') {
            unit = DAY_MS;
            p++;
        } else {
            return -1;
        }
        if (n > (INT64_MAX - total) / unit)
            return -1;
        total += n * unit;
    }
    *ms = total;
    return 0;
}

void config_format_duration(int64_t ms, char *buf, size_t size)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{DAY_MS, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms == 0) {
            snprintf(buf, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%lldms", (long long)ms);
}

static int parse_int(const char *text, int64_t *out)
{
    if (!*text)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || isspace((unsigned char)*text))
        return -1;
    *out = v;
    return 0;
}

static bool choice_ok(const char *choices, const char *text)
{
    size_t n = strlen(text);
    const char *p = choices;
    while (*p) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, text, n) == 0)
            return true;
        p += len;
        if (*p == '|')
            p++;
    }
    return false;
}

/* Check text against the entry's type and store it. On a bad value,
 * write the REASON of config.h into reason and return -1. */
static int entry_set(entry_t *e, const char *text, char *reason, size_t size)
{
    const key_def_t *d = e->def;
    int64_t num = 0;
    bool flag = false;
    switch (d->type) {
    case T_STRING:
        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(reason, size, "text without control characters");
                return -1;
            }
        }
        break;
    case T_PATH:
        if (!*text) {
            snprintf(reason, size, "a non-empty path");
            return -1;
        }
        break;
    case T_INT:
        if (parse_int(text, &num) < 0 || num < d->min || num > d->max) {
            snprintf(reason, size, "an integer from %lld to %lld", (long long)d->min,
                     (long long)d->max);
            return -1;
        }
        break;
    case T_PORT:
        if (parse_int(text, &num) < 0 || num < 0 || num > 65535) {
            snprintf(reason, size, "a port number from 0 to 65535");
            return -1;
        }
        break;
    case T_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1")) {
            flag = true;
        } else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") ||
                   !strcasecmp(text, "off") || !strcmp(text, "0")) {
            flag = false;
        } else {
            snprintf(reason, size, "true or false (also yes/no, on/off, 1/0)");
            return -1;
        }
        break;
    case T_DURATION: {
        int64_t min, max;
        duration_range(d->key, &min, &max);
        if (config_parse_duration_ms(text, &num) < 0) {
            snprintf(reason, size, "a duration such as 200ms, 5s, 2m, 1h or 30d");
            return -1;
        }
        if (num < min || num > max) {
            char a[32], b[32];
            config_format_duration(min, a, sizeof a);
            config_format_duration(max, b, sizeof b);
            snprintf(reason, size, "a duration from %s to %s", a, b);
            return -1;
        }
        break;
    }
    case T_ENUM:
        if (!choice_ok(d->choices, text)) {
            char list[200];
            size_t j = 0;
            for (const char *p = d->choices; *p && j + 3 < sizeof list; p++) {
                if (*p == '|') {
                    list[j++] = ',';
                    list[j++] = ' ';
                } else {
                    list[j++] = *p;
                }
            }
            list[j] = '\0';
            snprintf(reason, size, "one of: %s", list);
            return -1;
        }
        break;
    }
    char *copy = strdup(text);
    if (!copy) {
        snprintf(reason, size, "a value that fits in memory");
        return -1;
    }
    free(e->text);
    e->text = copy;
    e->num = num;
    e->flag = flag;
    return 0;
}

static void entry_origin(entry_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void entry_origin(entry_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s) {
        free(e->origin);
        e->origin = s;
    }
}

/* ---- the table --------------------------------------------------------- */

bool config_section_known(const char *section)
{
    if (!section)
        return false;
    if (strcmp(section, "common") == 0)
        return true;
    for (size_t i = 0; i < N_DAEMONS; i++)
        if (strcmp(section, s_daemons[i]) == 0)
            return true;
    return false;
}

static entry_t *find(const config_t *self, const char *section, const char *key)
{
    for (size_t i = 0; i < self->n_entries; i++) {
        entry_t *e = &self->entries[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->def->key, key) == 0)
            return e;
    }
    return NULL;
}

static const char *daemon_default(const char *section, const key_def_t *d)
{
    for (size_t i = 0; i < sizeof s_daemon_defaults / sizeof s_daemon_defaults[0]; i++)
        if (!strcmp(s_daemon_defaults[i].section, section) &&
            !strcmp(s_daemon_defaults[i].key, d->key))
            return s_daemon_defaults[i].def;
    return d->def;
}

static int add_entry(config_t *self, const char *section, const key_def_t *d)
{
    entry_t *e = &self->entries[self->n_entries++];
    memset(e, 0, sizeof *e);
    e->def = d;
    e->section = section;
    char reason[256];
    /* the defaults are checked like any value: a bad table entry fails fast */
    if (entry_set(e, daemon_default(section, d), reason, sizeof reason) < 0)
        return -1;
    e->origin = strdup("default");
    return e->origin ? 0 : -1;
}

static int build_entries(config_t *self)
{
    size_t n_keys = sizeof s_keys / sizeof s_keys[0];
    self->entries = calloc(n_keys * (N_DAEMONS + 1), sizeof(entry_t));
    if (!self->entries)
        return -1;
    for (size_t k = 0; k < n_keys; k++) {
        const key_def_t *d = &s_keys[k];
        if (strcmp(d->section, "*") == 0) {
            for (size_t i = 0; i < N_DAEMONS; i++)
                if (add_entry(self, s_daemons[i], d) < 0)
                    return -1;
        } else if (add_entry(self, d->section, d) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- the file ---------------------------------------------------------- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

/* "quoted \"value\"" -> quoted "value", in place; -1 if unterminated */
static int unquote(char *v)
{
    size_t n = strlen(v);
    if (n == 0 || v[0] != '"')
        return 0;
    if (n < 2 || v[n - 1] != '"')
        return -1;
    char *out = v;
    for (size_t i = 1; i < n - 1; i++) {
        if (v[i] == '\\' && (v[i + 1] == '"' || v[i + 1] == '\\') && i + 1 < n - 1)
            i++;
        else if (v[i] == '"')
            return -1;
        *out++ = v[i];
    }
    *out = '\0';
    return 0;
}

/* Read a key file: the whole content, one trailing newline removed. */
static char *read_key_file(const char *path, int *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *err = errno;
        return NULL;
    }
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    if (!mem) {
        *err = errno;
        fclose(f);
        return NULL;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    fclose(mem);
    if (rerr) {
        free(data);
        *err = rerr;
        return NULL;
    }
    if (len && data[len - 1] == '\n')
        data[--len] = '\0';
    if (len && data[len - 1] == '\r')
        data[--len] = '\0';
    return data;
}

static const char *shown(const entry_t *e, const char *value)
{
    return e->def->flags & F_SECRET ? "[redacted]" : value;
}

static void parse_file(config_t *self, FILE *f, errbuf_t *err)
{
    const char *path = self->path;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    char section[64] = "";
    bool section_ok = false;

    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *s = line;
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3; /* UTF-8 byte order mark */
        s = trim(s);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            size_t len = strlen(s);
            if (s[len - 1] != ']') {
                err_add(err, "%s:%d: syntax error: expected \"[section]\" or \"key = value\"", path,
                        lineno);
                section_ok = false;
                section[0] = '\0';
                continue;
            }
            s[len - 1] = '\0';
            char *name = trim(s + 1);
            snprintf(section, sizeof section, "%s", name);
            section_ok = config_section_known(name);
            if (!section_ok)
                err_add(err, "%s:%d: unknown section [%s]", path, lineno, name);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            err_add(err, "%s:%d: syntax error: expected \"[section]\" or \"key = value\"", path,
                    lineno);
            continue;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        if (!name_ok(key) || unquote(value) < 0) {
            err_add(err, "%s:%d: syntax error: expected \"[section]\" or \"key = value\"", path,
                    lineno);
            continue;
        }
        if (!section[0]) {
            err_add(err, "%s:%d: key \"%s\" outside of any section", path, lineno, key);
            continue;
        }
        if (!section_ok)
            continue; /* already reported: unknown section */

        /* KEY_file for a secret KEY */
        bool is_file = false;
        entry_t *e = find(self, section, key);
        size_t klen = strlen(key);
        if (!e && klen > 5 && strcmp(key + klen - 5, "_file") == 0) {
            char base[64];
            snprintf(base, sizeof base, "%.*s", (int)(klen - 5), key);
            entry_t *b = find(self, section, base);
            if (b && (b->def->flags & F_SECRET)) {
                e = b;
                is_file = true;
            }
        }
        if (!e) {
            err_add(err, "%s:%d: [%s] unknown key \"%s\"", path, lineno, section, key);
            continue;
        }
        int *seen = is_file ? &e->file_line : &e->line;
        if (*seen) {
            err_add(err, "%s:%d: [%s] duplicate key \"%s\" (first set on line %d)", path, lineno,
                    section, key, *seen);
            continue;
        }
        *seen = lineno;
        if (e->line && e->file_line) {
            err_add(err, "%s:%d: [%s] %s: set both as %s and as %s_file", path, lineno, section,
                    e->def->key, e->def->key, e->def->key);
            continue;
        }
        char reason[256];
        if (is_file) {
            int ferr = 0;
            char *secret = read_key_file(value, &ferr);
            if (!secret) {
                err_add(err, "%s:%d: [%s] %s: cannot read key file \"%s\": %s", path, lineno,
                        section, e->def->key, value, strerror(ferr));
                continue;
            }
            if (entry_set(e, secret, reason, sizeof reason) < 0)
                err_add(err, "%s:%d: [%s] %s: bad value \"%s\": expected %s", path, lineno, section,
                        e->def->key, shown(e, secret), reason);
            else
                entry_origin(e, "%s:%d", path, lineno);
            free(secret);
            continue;
        }
        if (entry_set(e, value, reason, sizeof reason) < 0)
            err_add(err, "%s:%d: [%s] %s: bad value \"%s\": expected %s", path, lineno, section,
                    key, shown(e, value), reason);
        else
            entry_origin(e, "%s:%d", path, lineno);
    }
    free(line);
}

/* ---- the environment ---------------------------------------------------- */

extern char **environ;

static void env_name(char *buf, size_t size, const char *section, const char *key,
                     const char *suffix)
{
    int n = snprintf(buf, size, "LIAISON_%s_%s%s", section, key, suffix);
    for (int i = 0; i < n && (size_t)i < size; i++)
        buf[i] = (char)toupper((unsigned char)buf[i]);
}

static void apply_env(config_t *self, errbuf_t *err)
{
    char name[160], reason[256];
    for (size_t i = 0; i < self->n_entries; i++) {
        entry_t *e = &self->entries[i];
        env_name(name, sizeof name, e->section, e->def->key, "");
        const char *v = getenv(name);
        if (v) {
            if (entry_set(e, v, reason, sizeof reason) < 0)
                err_add(err, "environment %s: [%s] %s: bad value \"%s\": expected %s", name,
                        e->section, e->def->key, shown(e, v), reason);
            else
                entry_origin(e, "environment %s", name);
            continue;
        }
        if (!(e->def->flags & F_SECRET))
            continue;
        env_name(name, sizeof name, e->section, e->def->key, "_FILE");
        v = getenv(name);
        if (!v)
            continue;
        int ferr = 0;
        char *secret = read_key_file(v, &ferr);
        if (!secret) {
            err_add(err, "environment %s: [%s] %s: cannot read key file \"%s\": %s", name,
                    e->section, e->def->key, v, strerror(ferr));
            continue;
        }
        if (entry_set(e, secret, reason, sizeof reason) < 0)
            err_add(err, "environment %s: [%s] %s: bad value \"[redacted]\": expected %s", name,
                    e->section, e->def->key, reason);
        else
            entry_origin(e, "environment %s", name);
        free(secret);
    }

    /* LIAISON_<KNOWN SECTION>_<UNKNOWN KEY> is a typo worth stopping for */
    for (char **envp = environ; envp && *envp; envp++) {
        const char *var = *envp;
        if (strncmp(var, "LIAISON_", 8) != 0)
            continue;
        const char *eq = strchr(var, '=');
        if (!eq)
            continue;
        const char *rest = var + 8;
        const char *sections[N_DAEMONS + 1] = {"common"};
        for (size_t i = 0; i < N_DAEMONS; i++)
            sections[i + 1] = s_daemons[i];
        for (size_t s = 0; s <= N_DAEMONS; s++) {
            size_t sl = strlen(sections[s]);
            if (strncasecmp(rest, sections[s], sl) != 0 || rest[sl] != '_')
                continue;
            char key[128];
            size_t kl = (size_t)(eq - (rest + sl + 1));
            if (kl == 0 || kl >= sizeof key)
                break;
            for (size_t j = 0; j < kl; j++)
                key[j] = (char)tolower((unsigned char)rest[sl + 1 + j]);
            key[kl] = '\0';
            entry_t *e = find(self, sections[s], key);
            if (!e && kl > 5 && strcmp(key + kl - 5, "_file") == 0) {
                key[kl - 5] = '\0';
                e = find(self, sections[s], key);
                if (e && !(e->def->flags & F_SECRET))
                    e = NULL;
                key[kl - 5] = '_';
            }
            if (!e)
                err_add(err, "environment %.*s: [%s] unknown key \"%s\"", (int)(eq - var), var,
                        sections[s], key);
            break;
        }
    }
}

/* ---- public ------------------------------------------------------------ */

config_t *config_new(const char *path, char **error)
{
    errbuf_t err = {0};
    FILE *f = NULL;
    config_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path ? path : ""))) {
        err_add(&err, "%s: cannot open: %s", path ? path : "", strerror(ENOMEM));
        goto fail;
    }
    if (build_entries(self) < 0) {
        err_add(&err, "%s: cannot open: %s", path, strerror(ENOMEM));
        goto fail;
    }
    f = fopen(path, "r");
    if (!f) {
        err_add(&err, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    parse_file(self, f, &err);
    fclose(f);
    f = NULL;
    apply_env(self, &err);
    if (err.len)
        goto fail;
    free(err.data);
    if (error)
        *error = NULL;
    return self;

fail:
    if (f)
        fclose(f);
    config_destroy(&self);
    if (error)
        *error = err.data ? err.data : strdup("configuration error");
    else
        free(err.data);
    return NULL;
}

void config_destroy(config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    config_t *self = *self_p;
    for (size_t i = 0; i < self->n_entries; i++) {
        free(self->entries[i].text);
        free(self->entries[i].origin);
    }
    free(self->entries);
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *config_path(const config_t *self)
{
    return self->path;
}

static const entry_t *get(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = find(self, section, key);
    if (!e)
        fprintf(stderr, "config: [%s] %s is not in the key table\n", section, key);
    assert(e && "config key not declared in config.c");
    return e;
}

const char *config_str(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = get(self, section, key);
    return e ? e->text : "";
}

int64_t config_int(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = get(self, section, key);
    assert(!e || e->def->type == T_INT || e->def->type == T_PORT || e->def->type == T_DURATION);
    return e ? e->num : 0;
}

bool config_bool(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = get(self, section, key);
    assert(!e || e->def->type == T_BOOL);
    return e ? e->flag : false;
}

int64_t config_duration_ms(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = get(self, section, key);
    assert(!e || e->def->type == T_DURATION);
    return e ? e->num : 0;
}

int config_port(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = get(self, section, key);
    assert(!e || e->def->type == T_PORT);
    return e ? (int)e->num : 0;
}

const char *config_origin(const config_t *self, const char *section, const char *key)
{
    const entry_t *e = get(self, section, key);
    return e ? e->origin : "";
}

void config_dump(const config_t *self, FILE *out)
{
    for (size_t i = 0; i < self->n_entries; i++) {
        const entry_t *e = &self->entries[i];
        char *redacted = NULL;
        const char *v = e->text;
        if (e->def->flags & F_SECRET)
            v = log_redact(e->text);
        else if (e->def->flags & F_CONNINFO)
            v = redacted = log_redact_conninfo(e->text);
        fprintf(out, "%s.%s = %s  # %s\n", e->section, e->def->key, v ? v : "", e->origin);
        free(redacted);
    }
}
