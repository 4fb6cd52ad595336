/* domain_utf8 — checking text from outside before it is stored or shown. */
#ifndef LIAISON_DOMAIN_UTF8_H
#define LIAISON_DOMAIN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * NUL bytes are valid UTF-8; callers that forbid them check separately. */
bool domain_utf8_valid(const char *text, size_t len);

#endif
