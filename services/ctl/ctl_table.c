/* ctl_table — see ctl_table.h. */
#include "ctl/ctl_table.h"

#include <stdint.h>

/* Decode one UTF-8 character at s; returns its length (1 for an invalid byte). */
static int s_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return n;
}

/* The wide ranges of Unicode's East Asian Width (W and F) that Chinese text
 * uses, and the common combining marks (zero width). */
static int s_cells(uint32_t c)
{
    if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || c == 0xFE0F)
        return 0;
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
        (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
        (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
        (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
        (c >= 0x20000 && c <= 0x3FFFD))
        return 2;
    return 1;
}

int ctl_display_width(const char *s)
{
    int width = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        p += s_decode(p, &cp);
        width += s_cells(cp);
    }
    return width;
}

void ctl_cell(FILE *out, const char *s, int width)
{
    s = s ? s : "";
    fputs(s, out);
    for (int pad = width - ctl_display_width(s); pad > 0; pad--)
        fputc(' ', out);
    fputc(' ', out);
}

void ctl_row(FILE *out, const int *widths, size_t n, const char *const *cells)
{
    for (size_t i = 0; i + 1 < n; i++)
        ctl_cell(out, cells[i], widths[i]);
    if (n > 0)
        fputs(cells[n - 1] ? cells[n - 1] : "", out);
    fputc('\n', out);
}
