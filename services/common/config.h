/* config — one INI file for the whole stack, validated at start.
 *
 * File: sections [common], [intake], [routing], [deadline], [notify],
 * [report]; lines `key = value`; `#` or `;` start a comment line (no inline
 * comments: a password may hold a '#'); a value may be double-quoted to keep
 * leading or trailing spaces (inside quotes, \" and \\ are escapes).
 *
 * Every key is declared in one table in config.c (the Redis model: one
 * place that lists every setting, its type, range and default);
 * deploy/liaison.ini.example documents the same table. Every daemon
 * validates the whole file, so `liaison-intake --check-config` also catches
 * a typo in [notify].
 *
 * Value types: string, int (with a range), bool (true/false, yes/no,
 * on/off, 1/0), duration (200ms, 5s, 2m, 1h, 30d, or sums like 1h30m;
 * stored in milliseconds; 0 may be written without a unit), port (0-65535,
 * 0 = any free port), path (non-empty), enum (a fixed list).
 *
 * Overrides: the environment variable LIAISON_<SECTION>_<KEY> (upper case,
 * e.g. LIAISON_INTAKE_HTTP_PORT=7411) wins over the file. A variable with
 * a known section prefix but an unknown key is an error (it is a typo).
 *
 * Secrets (postgres_password, redis_password, ...): never printed; they
 * may also come from a file: `postgres_password_file = /run/secrets/pg`
 * (the file's content, one trailing newline removed), or from
 * LIAISON_<SECTION>_<KEY> / LIAISON_<SECTION>_<KEY>_FILE. Setting both the
 * key and its _file form in one place is an error.
 *
 * Error messages (stable: tests and operators match them). FILE is the path
 * as given, LINE counts from 1; one message per problem, all problems are
 * reported, joined by '\n':
 *
 *   FILE: cannot open: STRERROR
 *   FILE:LINE: syntax error: expected "[section]" or "key = value"
 *   FILE:LINE: unknown section [NAME]
 *   FILE:LINE: key "KEY" outside of any section
 *   FILE:LINE: [SECTION] unknown key "KEY"
 *   FILE:LINE: [SECTION] duplicate key "KEY" (first set on line N)
 *   FILE:LINE: [SECTION] KEY: bad value "VALUE": expected REASON
 *   FILE:LINE: [SECTION] KEY: cannot read key file "PATH": STRERROR
 *   FILE:LINE: [SECTION] KEY: set both as KEY and as KEY_file
 *   environment NAME: [SECTION] unknown key "KEY"
 *   environment NAME: [SECTION] KEY: bad value "VALUE": expected REASON
 *   environment NAME: [SECTION] KEY: cannot read key file "PATH": STRERROR
 *
 * REASON is one of:
 *   an integer from MIN to MAX
 *   a port number from 0 to 65535
 *   true or false (also yes/no, on/off, 1/0)
 *   a duration such as 200ms, 5s, 2m, 1h or 30d
 *   a duration from MIN to MAX            (MIN/MAX written like 0s, 10m)
 *   one of: A, B, C
 *   a non-empty path
 *   text without control characters
 * and the VALUE of a secret is written as [redacted].
 */
#ifndef LIAISON_COMMON_CONFIG_H
#define LIAISON_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct config_t config_t;

/* Read, validate and return the configuration at path, with environment
 * overrides applied. On failure returns NULL and, when error is not NULL,
 * sets *error to the messages above (caller frees). */
config_t *config_new(const char *path, char **error);
void config_destroy(config_t **self_p);

/* The path the configuration was read from. */
const char *config_path(const config_t *self);

/* Typed getters. Asking for a key the table does not declare, or with the
 * wrong type, is a programmer error (assert). Strings are borrowed from
 * self and live as long as it does. */
const char *config_str(const config_t *self, const char *section, const char *key);
int64_t config_int(const config_t *self, const char *section, const char *key);
bool config_bool(const config_t *self, const char *section, const char *key);
int64_t config_duration_ms(const config_t *self, const char *section, const char *key);
int config_port(const config_t *self, const char *section, const char *key);

/* Where the value came from: "default", "FILE:LINE", "environment NAME". */
const char *config_origin(const config_t *self, const char *section, const char *key);

/* Is [section] one the table declares? */
bool config_section_known(const char *section);

/* Write every key as `section.key = value  # origin`, secrets redacted. */
void config_dump(const config_t *self, FILE *out);

/* Parse a duration ("200ms", "5s", "2m", "1h", "30d", "1h30m", "0") into
 * milliseconds. Returns 0, or -1 when the text is not a duration or it
 * overflows. Used by the config and by `liaisonctl clock advance 30d`. */
int config_parse_duration_ms(const char *text, int64_t *ms);

/* Write a duration in ms in the largest exact unit ("10m", "1500ms"). */
void config_format_duration(int64_t ms, char *buf, size_t size);

#endif
