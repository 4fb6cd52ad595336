/* ctl_table — columns for people: pads by display width, so Chinese text
 * (two cells a character in a terminal) lines up with Latin text. */
#ifndef LIAISON_CTL_TABLE_H
#define LIAISON_CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

/* Terminal cells that UTF-8 text s takes: East Asian wide and fullwidth
 * characters count two, combining marks none, the rest one. Invalid bytes
 * count one each. */
int ctl_display_width(const char *s);

/* Write s left-aligned in a column `width` cells wide, then one space.
 * Text wider than the column is written whole (never cut mid-character). */
void ctl_cell(FILE *out, const char *s, int width);

/* One row: each cell padded to its width, the last one written as it is,
 * then a newline. widths[n - 1] is not used. */
void ctl_row(FILE *out, const int *widths, size_t n, const char *const *cells);

#endif
