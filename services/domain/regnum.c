/* domain_regnum — see regnum.h. */
#include "domain/regnum.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "domain/date.h"
#include "domain/utf8.h"

typedef enum { S_LIT, S_YEAR, S_SEQ } s_kind_t;

typedef struct {
    s_kind_t kind;
    const char *text; /* literal */
    size_t len;
    int width; /* S_SEQ: zero padding, 0 = none */
} s_piece_t;

#define S_MAX_PIECES 8

static void s_msg(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_msg(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

/* Splits a template into at most 5 pieces: lit? year|seq lit? seq|year lit?. */
static int s_split(const char *tmpl, s_piece_t *pieces, size_t *npieces, char *err, size_t errsize)
{
    if (!tmpl) {
        s_msg(err, errsize, "no template");
        return -1;
    }
    size_t len = strnlen(tmpl, DOMAIN_REGNUM_MAX_TEMPLATE + 1);
    if (len == 0 || len > DOMAIN_REGNUM_MAX_TEMPLATE) {
        s_msg(err, errsize, "the template must be 1 to %d bytes", DOMAIN_REGNUM_MAX_TEMPLATE);
        return -1;
    }
    if (!domain_utf8_valid(tmpl, len)) {
        s_msg(err, errsize, "the template is not valid UTF-8");
        return -1;
    }
    size_t n = 0;
    int years = 0, seqs = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)tmpl[i];
        if (c < 0x20 || c == 0x7F) {
            s_msg(err, errsize, "control character in the template");
            return -1;
        }
        if (c == '}') {
            s_msg(err, errsize, "unmatched '}' at byte %zu", i);
            return -1;
        }
        if (n == S_MAX_PIECES) {
            s_msg(err, errsize, "the template has too many parts");
            return -1;
        }
        if (c == '{') {
            const char *close = memchr(tmpl + i, '}', len - i);
            if (!close) {
                s_msg(err, errsize, "unmatched '{' at byte %zu", i);
                return -1;
            }
            size_t plen = (size_t)(close - (tmpl + i)) + 1;
            s_piece_t *p = &pieces[n++];
            p->text = tmpl + i;
            p->len = plen;
            p->width = 0;
            if (plen == 6 && memcmp(tmpl + i, "{year}", 6) == 0) {
                p->kind = S_YEAR;
                years++;
            } else if (plen == 5 && memcmp(tmpl + i, "{seq}", 5) == 0) {
                p->kind = S_SEQ;
                seqs++;
            } else if (plen == 7 && memcmp(tmpl + i, "{seq:", 5) == 0 && tmpl[i + 5] >= '1' &&
                       tmpl[i + 5] <= '9') {
                p->kind = S_SEQ;
                p->width = tmpl[i + 5] - '0';
                seqs++;
            } else {
                s_msg(err, errsize, "unknown placeholder \"%.*s\" (use {year}, {seq} or {seq:N})",
                      (int)(plen > 20 ? 20 : plen), tmpl + i);
                return -1;
            }
            i += plen;
            continue;
        }
        size_t j = i;
        while (j < len && tmpl[j] != '{' && tmpl[j] != '}' && (unsigned char)tmpl[j] >= 0x20 &&
               tmpl[j] != 0x7F)
            j++;
        s_piece_t *p = &pieces[n++];
        p->kind = S_LIT;
        p->text = tmpl + i;
        p->len = j - i;
        p->width = 0;
        i = j;
    }
    if (years != 1 || seqs != 1) {
        s_msg(err, errsize,
              "the template needs exactly one {year} and one {seq} (it has %d and %d)", years,
              seqs);
        return -1;
    }
    /* {year}{seq} side by side, or a digit right after {seq}, could not be
     * read back unambiguously. */
    for (size_t k = 1; k < n; k++) {
        if (pieces[k].kind != S_LIT && pieces[k - 1].kind != S_LIT) {
            s_msg(err, errsize, "{year} and {seq} must be separated by some text");
            return -1;
        }
        if (pieces[k].kind == S_LIT && pieces[k - 1].kind == S_SEQ && pieces[k].text[0] >= '0' &&
            pieces[k].text[0] <= '9') {
            s_msg(err, errsize, "{seq} must not be followed by a digit");
            return -1;
        }
    }
    *npieces = n;
    return 0;
}

int domain_regnum_validate(const char *tmpl, char *err, size_t errsize)
{
    s_piece_t pieces[S_MAX_PIECES];
    size_t n;
    return s_split(tmpl, pieces, &n, err, errsize);
}

int domain_regnum_render(const char *tmpl, int year, uint32_t seq, char *buf, size_t size)
{
    s_piece_t pieces[S_MAX_PIECES];
    size_t n;
    if (!buf || size == 0 || s_split(tmpl, pieces, &n, NULL, 0) < 0)
        return -1;
    if (year < DOMAIN_DATE_MIN_YEAR || year > DOMAIN_DATE_MAX_YEAR || seq < 1 ||
        seq > DOMAIN_REGNUM_MAX_SEQ)
        return -1;
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        int w;
        if (pieces[k].kind == S_LIT) {
            if (pieces[k].len >= size - off)
                return -1;
            memcpy(buf + off, pieces[k].text, pieces[k].len);
            w = (int)pieces[k].len;
        } else if (pieces[k].kind == S_YEAR) {
            w = snprintf(buf + off, size - off, "%04d", year);
        } else {
            w = snprintf(buf + off, size - off, "%0*u", pieces[k].width, (unsigned)seq);
        }
        if (w < 0 || (size_t)w >= size - off)
            return -1;
        off += (size_t)w;
    }
    buf[off] = '\0';
    return 0;
}

/* Reads digits at s: exactly `width` when width > 0, else 1..max without a
 * leading zero. Returns the count consumed, or 0. */
static size_t s_digits(const char *s, int width, size_t max, uint64_t *value)
{
    size_t i = 0;
    uint64_t v = 0;
    while (s[i] >= '0' && s[i] <= '9' && i < max) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == 0)
        return 0;
    if (width > 0 && i != (size_t)width)
        return 0;
    if (width == 0 && s[0] == '0')
        return 0;
    *value = v;
    return i;
}

int domain_regnum_parse(const char *tmpl, const char *number, int *year, uint32_t *seq)
{
    s_piece_t pieces[S_MAX_PIECES];
    size_t n;
    if (!number || !year || !seq || s_split(tmpl, pieces, &n, NULL, 0) < 0)
        return -1;
    if (strnlen(number, DOMAIN_REGNUM_MAX) >= DOMAIN_REGNUM_MAX)
        return -1;
    const char *s = number;
    uint64_t y = 0, q = 0;
    for (size_t k = 0; k < n; k++) {
        if (pieces[k].kind == S_LIT) {
            if (strncmp(s, pieces[k].text, pieces[k].len) != 0)
                return -1;
            s += pieces[k].len;
        } else if (pieces[k].kind == S_YEAR) {
            size_t c = s_digits(s, 4, 4, &y);
            if (!c)
                return -1;
            s += c;
        } else {
            /* All the digits there are: rendering pads to the width and no
             * more, so a longer number has no leading zero. */
            size_t w = (size_t)pieces[k].width, i = 0;
            q = 0;
            while (s[i] >= '0' && s[i] <= '9') {
                if (i == 10)
                    return -1;
                q = q * 10 + (uint64_t)(s[i++] - '0');
            }
            if (i == 0 || i < w || (i > w && i > 1 && s[0] == '0') || (w == 0 && s[0] == '0'))
                return -1;
            s += i;
        }
    }
    if (*s != '\0')
        return -1;
    if (y < DOMAIN_DATE_MIN_YEAR || y > DOMAIN_DATE_MAX_YEAR || q < 1 || q > DOMAIN_REGNUM_MAX_SEQ)
        return -1;
    *year = (int)y;
    *seq = (uint32_t)q;
    return 0;
}
