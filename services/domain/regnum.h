/* domain_regnum — registration numbers (登记编号, Art. 13).
 *
 * Each court numbers its items per year without gaps, in a format of its own,
 * for example `荔法联〔{year}〕{seq}号` → 荔法联〔2026〕12号. The template is
 * configuration, so it is validated before use: exactly one {year}, exactly one
 * {seq} or {seq:N} (zero-padded to N digits, N 1..9), no other braces, UTF-8
 * text without control characters, at most DOMAIN_REGNUM_MAX_TEMPLATE bytes.
 * The sequence itself is the intake service's (allocated inside its
 * transaction); this module only renders and reads numbers. */
#ifndef LIAISON_DOMAIN_REGNUM_H
#define LIAISON_DOMAIN_REGNUM_H

#include <stddef.h>
#include <stdint.h>

#define DOMAIN_REGNUM_MAX_TEMPLATE 128
/* A rendered number always fits in this many bytes (with the NUL). */
#define DOMAIN_REGNUM_MAX     160
#define DOMAIN_REGNUM_MAX_SEQ 999999999u

/* The template of DOMAIN.md §3 for 荔湾区人民法院. */
#define DOMAIN_REGNUM_DEFAULT_TEMPLATE "荔法联〔{year}〕{seq}号"

/* -1 with a message in err when the template is unusable. */
int domain_regnum_validate(const char *tmpl, char *err, size_t errsize);

/* Renders the number of item `seq` (1..DOMAIN_REGNUM_MAX_SEQ) of `year` into
 * buf. -1 for an invalid template, year or seq, or a buffer too small. */
int domain_regnum_render(const char *tmpl, int year, uint32_t seq, char *buf, size_t size);

/* Reads a number written by the template back into year and seq. -1 when it
 * does not match (wrong text, padding or digits). */
int domain_regnum_parse(const char *tmpl, const char *number, int *year, uint32_t *seq);

#endif
