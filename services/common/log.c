/* log — see log.h. */
#include "common/log.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

static _Atomic int s_level = LOG_LEVEL_INFO;
static char s_daemon[32] = "liaison";
static FILE *_Atomic s_out = NULL;

void log_init(const char *daemon, log_level_t level)
{
    if (daemon) {
        strncpy(s_daemon, daemon, sizeof s_daemon - 1);
        s_daemon[sizeof s_daemon - 1] = '\0';
    }
    log_set_level(level);
}

void log_set_level(log_level_t level)
{
    if (level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR)
        level = LOG_LEVEL_INFO;
    atomic_store_explicit(&s_level, (int)level, memory_order_relaxed);
}

log_level_t log_get_level(void)
{
    return (log_level_t)atomic_load_explicit(&s_level, memory_order_relaxed);
}

bool log_enabled(log_level_t level)
{
    return (int)level >= atomic_load_explicit(&s_level, memory_order_relaxed);
}

void log_set_output(FILE *out)
{
    atomic_store(&s_out, out);
}

static const char *const s_names[] = {"debug", "info", "warn", "error"};

const char *log_level_name(log_level_t level)
{
    if (level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR)
        return "unknown";
    return s_names[level];
}

int log_level_parse(const char *name, log_level_t *level)
{
    if (!name)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, s_names[i]) == 0) {
            *level = (log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *level = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

/* ---- a small owned buffer (git's strbuf, reduced) ----------------------- */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: the line is dropped, never torn */
    char stack[1024];
} buf_t;

static void buf_init(buf_t *b)
{
    b->data = b->stack;
    b->len = 0;
    b->cap = sizeof b->stack;
    b->failed = false;
    b->stack[0] = '\0';
}

static void buf_release(buf_t *b)
{
    if (b->data != b->stack)
        free(b->data);
    buf_init(b);
}

static bool buf_grow(buf_t *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap * 2;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *data = b->data == b->stack ? malloc(cap) : realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return false;
    }
    if (b->data == b->stack)
        memcpy(data, b->stack, b->len + 1);
    b->data = data;
    b->cap = cap;
    return true;
}

static void buf_add(buf_t *b, const char *s, size_t n)
{
    if (!buf_grow(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_addc(buf_t *b, char c)
{
    buf_add(b, &c, 1);
}

static void buf_adds(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static bool needs_quotes(const char *v)
{
    if (*v == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
            return true;
    }
    return false;
}

/* Quote when needed (always when force is set) and escape. */
static void buf_add_value(buf_t *b, const char *v, bool force)
{
    if (!v)
        v = "";
    if (!force && !needs_quotes(v)) {
        buf_adds(b, v);
        return;
    }
    buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        switch (*p) {
        case '"':
            buf_add(b, "\\\"", 2);
            break;
        case '\\':
            buf_add(b, "\\\\", 2);
            break;
        case '\n':
            buf_add(b, "\\n", 2);
            break;
        case '\r':
            buf_add(b, "\\r", 2);
            break;
        case '\t':
            buf_add(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char esc[5];
                snprintf(esc, sizeof esc, "\\x%02x", *p);
                buf_add(b, esc, 4);
            } else {
                buf_addc(b, (char)*p);
            }
        }
    }
    buf_addc(b, '"');
}

size_t log_quote(char *out, size_t size, const char *value)
{
    buf_t b;
    buf_init(&b);
    buf_add_value(&b, value, false);
    size_t need = b.len;
    if (size > 0) {
        size_t n = need < size - 1 ? need : size - 1;
        memcpy(out, b.data, n);
        out[n] = '\0';
    }
    buf_release(&b);
    return need;
}

/* Format one conversion with snprintf into the buffer. The spec is built by
 * fields_format from a format the compiler already checked against the
 * arguments (the printf attribute on log_write). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void buf_addf(buf_t *b, const char *spec, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, spec);
    int n = vsnprintf(tmp, sizeof tmp, spec, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_add(b, tmp, (size_t)n);
        return;
    }
    if (!buf_grow(b, (size_t)n))
        return;
    va_start(ap, spec);
    vsnprintf(b->data + b->len, (size_t)n + 1, spec, ap);
    va_end(ap);
    b->len += (size_t)n;
}
#pragma GCC diagnostic pop

/* Walk a printf format: copy text, quote %s values, pass other conversions
 * to snprintf with the argument type their length modifier names. */
static void fields_format(buf_t *b, const char *fmt, va_list ap)
{
    const char *p = fmt;
    while (*p) {
        if (*p != '%') {
            buf_addc(b, *p++);
            continue;
        }
        if (p[1] == '%') {
            buf_addc(b, '%');
            p += 2;
            continue;
        }
        char spec[32];
        size_t n = 0;
        spec[n++] = *p++;
        int star_width = -1, star_prec = -1;
        bool has_star_w = false, has_star_p = false;
        while (*p && strchr("-+ #0", *p) && n < 20)
            spec[n++] = *p++;
        if (*p == '*') {
            has_star_w = true;
            star_width = va_arg(ap, int);
            spec[n++] = *p++;
        }
        while (isdigit((unsigned char)*p) && n < 20)
            spec[n++] = *p++;
        int prec = -1;
        if (*p == '.') {
            spec[n++] = *p++;
            prec = 0;
            if (*p == '*') {
                has_star_p = true;
                star_prec = va_arg(ap, int);
                spec[n++] = *p++;
            }
            while (isdigit((unsigned char)*p) && n < 24) {
                prec = prec * 10 + (*p - '0');
                spec[n++] = *p++;
            }
        }
        if (has_star_p)
            prec = star_prec;
        char len[3] = {0};
        size_t ln = 0;
        while (*p && strchr("hlzjtL", *p) && ln < 2) {
            len[ln++] = *p;
            spec[n++] = *p++;
        }
        char conv = *p;
        if (!conv)
            break;
        spec[n++] = *p++;
        spec[n] = '\0';

#define EMIT(value)                                                                                \
    do {                                                                                           \
        if (has_star_w && has_star_p)                                                              \
            buf_addf(b, spec, star_width, star_prec, value);                                       \
        else if (has_star_w)                                                                       \
            buf_addf(b, spec, star_width, value);                                                  \
        else if (has_star_p)                                                                       \
            buf_addf(b, spec, star_prec, value);                                                   \
        else                                                                                       \
            buf_addf(b, spec, value);                                                              \
    } while (0)

        switch (conv) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (prec >= 0 && s) {
                /* %.3s, %.*s: a bounded slice */
                size_t max = strnlen(s, (size_t)prec);
                char *slice = strndup(s, max);
                buf_add_value(b, slice ? slice : "", false);
                free(slice);
            } else {
                buf_add_value(b, s, false);
            }
            break;
        }
        case 'd':
        case 'i':
            if (!strcmp(len, "l"))
                EMIT(va_arg(ap, long));
            else if (!strcmp(len, "ll"))
                EMIT(va_arg(ap, long long));
            else if (!strcmp(len, "z"))
                EMIT(va_arg(ap, ssize_t));
            else if (!strcmp(len, "j"))
                EMIT(va_arg(ap, intmax_t));
            else if (!strcmp(len, "t"))
                EMIT(va_arg(ap, ptrdiff_t));
            else
                EMIT(va_arg(ap, int));
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            if (!strcmp(len, "l"))
                EMIT(va_arg(ap, unsigned long));
            else if (!strcmp(len, "ll"))
                EMIT(va_arg(ap, unsigned long long));
            else if (!strcmp(len, "z"))
                EMIT(va_arg(ap, size_t));
            else if (!strcmp(len, "j"))
                EMIT(va_arg(ap, uintmax_t));
            else if (!strcmp(len, "t"))
                EMIT(va_arg(ap, ptrdiff_t));
            else
                EMIT(va_arg(ap, unsigned int));
            break;
        case 'c':
            EMIT(va_arg(ap, int));
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (!strcmp(len, "L"))
                EMIT(va_arg(ap, long double));
            else
                EMIT(va_arg(ap, double));
            break;
        case 'p':
            EMIT(va_arg(ap, void *));
            break;
        default:
            /* unknown conversion: the format is wrong; write it verbatim */
            buf_adds(b, spec);
            break;
        }
#undef EMIT
    }
}

void log_vwrite(log_level_t level, const char *msg, const char *fields, va_list ap)
{
    buf_t b;
    buf_init(&b);

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_adds(&b, "ts=");
    buf_adds(&b, when);
    buf_addf(&b, ".%06ldZ", ts.tv_nsec / 1000);
    buf_adds(&b, " level=");
    buf_adds(&b, log_level_name(level));
    buf_adds(&b, " daemon=");
    buf_add_value(&b, s_daemon, false);
    buf_adds(&b, " msg=");
    buf_add_value(&b, msg, true);
    if (fields && *fields) {
        buf_addc(&b, ' ');
        fields_format(&b, fields, ap);
    }
    buf_addc(&b, '\n');

    if (!b.failed) {
        FILE *out = atomic_load(&s_out);
        if (!out)
            out = stderr;
        /* one fwrite under the stream lock: lines from threads never mix */
        flockfile(out);
        fwrite_unlocked(b.data, 1, b.len, out);
        fflush_unlocked(out);
        funlockfile(out);
    }
    buf_release(&b);
}

void log_write(log_level_t level, const char *msg, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    log_vwrite(level, msg, fields, ap);
    va_end(ap);
}

/* ---- secrets ---------------------------------------------------------- */

const char *log_redact(const char *secret)
{
    return secret && *secret ? "[redacted]" : "";
}

static char *redact_uri(const char *s)
{
    buf_t b;
    buf_init(&b);
    const char *scheme_end = strstr(s, "://");
    const char *auth = scheme_end + 3;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    buf_add(&b, s, (size_t)(auth - s));
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            buf_add(&b, auth, (size_t)(colon - auth) + 1);
            buf_adds(&b, "[redacted]");
            buf_add(&b, at, (size_t)(auth_end - at));
        } else {
            buf_add(&b, auth, (size_t)(auth_end - auth));
        }
    } else {
        buf_add(&b, auth, (size_t)(auth_end - auth));
    }
    /* query parameters: password=... */
    const char *p = auth_end;
    while (*p) {
        size_t n = strcspn(p + 1, "&#");
        const char *param = p + 1;
        buf_addc(&b, *p);
        if ((*p == '?' || *p == '&') && strncasecmp(param, "password=", 9) == 0) {
            buf_add(&b, param, 9);
            buf_adds(&b, "[redacted]");
        } else {
            buf_add(&b, param, n);
        }
        p = param + n;
    }
    char *out = b.failed ? NULL : strdup(b.data);
    buf_release(&b);
    return out;
}

char *log_redact_conninfo(const char *conninfo)
{
    if (!conninfo)
        return strdup("");
    if (strstr(conninfo, "://"))
        return redact_uri(conninfo);

    buf_t b;
    buf_init(&b);
    const char *p = conninfo;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t key_len = (size_t)(p - key);
        while (isspace((unsigned char)*p))
            p++;
        const char *val = p, *val_end;
        if (*p == '=') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            val = p;
            if (*p == '\'') {
                p++;
                while (*p && *p != '\'') {
                    if (*p == '\\' && p[1])
                        p++;
                    p++;
                }
                if (*p == '\'')
                    p++;
            } else {
                while (*p && !isspace((unsigned char)*p))
                    p++;
            }
        }
        val_end = p;
        if (b.len)
            buf_addc(&b, ' ');
        buf_add(&b, key, key_len);
        buf_addc(&b, '=');
        if (key_len == 8 && strncasecmp(key, "password", 8) == 0)
            buf_adds(&b, "[redacted]");
        else
            buf_add(&b, val, (size_t)(val_end - val));
    }
    char *out = b.failed ? NULL : strdup(b.data);
    buf_release(&b);
    return out;
}
