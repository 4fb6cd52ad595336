/* log — structured logs to stderr, one logfmt line per event.
 *
 *   ts=2024-05-01T08:30:00.123456Z level=info daemon=intake msg="http listening" port=7401
 *
 * The logger is process-wide (there is one stderr): log_init() names the
 * daemon, log_set_level() changes the threshold at any time (SIGHUP reload)
 * and from any thread. The macros check the level before any argument is
 * formatted, so a disabled debug line costs one relaxed atomic load.
 *
 * Fields are written with a printf-style format of space-separated
 * `key=%conv` pairs. Every %s value is quoted and escaped as logfmt requires
 * (quotes when it is empty or holds a space, '=', '"' or a control byte;
 * \" \\ \n \r \t and \xNN escapes inside quotes); other conversions (%d,
 * %lld, %zu, %u, %x, %g, %f, %p, ...) are written as they are. A NULL %s
 * prints as an empty string "".
 *
 *   log_info("request served", "route=%s status=%d ms=%.1f", route, status, ms);
 *
 * Secrets never reach a log line: pass them through log_redact() (a fixed
 * marker), and connection strings through log_redact_conninfo().
 */
#ifndef LIAISON_COMMON_LOG_H
#define LIAISON_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Not LOG_INFO & co: <syslog.h> owns those names. */
typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
} log_level_t;

/* Name the daemon (copied, at most 31 bytes) and set the threshold. */
void log_init(const char *daemon, log_level_t level);
void log_set_level(log_level_t level);
log_level_t log_get_level(void);
bool log_enabled(log_level_t level);

/* "debug", "info", "warn" (or "warning"), "error" -> 0 and *level; else -1. */
int log_level_parse(const char *name, log_level_t *level);
const char *log_level_name(log_level_t level);

/* Where lines go: stderr by default; tests pass a memstream. NULL = stderr.
 * The stream is borrowed and must outlive its use. */
void log_set_output(FILE *out);

/* Write one line (no level check: the macros do it). fields may be NULL. */
void log_write(log_level_t level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(log_level_t level, const char *msg, const char *fields, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define LOG_AT_(lvl, msg, ...)                                                                     \
    do {                                                                                           \
        if (log_enabled(lvl))                                                                      \
            log_write((lvl), (msg), __VA_ARGS__);                                                  \
    } while (0)
/* log_info("message", "key=%s n=%d", value, n) or log_info("message", NULL) */
#define log_debug(msg, ...) LOG_AT_(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  LOG_AT_(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  LOG_AT_(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) LOG_AT_(LOG_LEVEL_ERROR, msg, __VA_ARGS__)

/* The marker that stands in for a secret: "[redacted]" for a non-empty
 * secret, "" for NULL or empty (so a log still tells "set" from "unset"). */
const char *log_redact(const char *secret);

/* A copy of a libpq conninfo ("host=h password=x") or URI
 * ("postgresql://u:x@h/db?password=x") with every password replaced by
 * [redacted]. Caller frees; NULL on allocation failure. */
char *log_redact_conninfo(const char *conninfo);

/* Append `value` to buf as a logfmt value (quoted only when needed).
 * Returns the length the full value needs, like snprintf. */
size_t log_quote(char *buf, size_t size, const char *value);

#endif
