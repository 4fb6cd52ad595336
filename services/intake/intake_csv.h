/* intake_csv — RFC 4180 CSV for directory imports.
 *
 * UTF-8 text (a leading byte-order mark is dropped, as spreadsheet programs
 * write one); fields separated by commas; a field may be double-quoted, with
 * "" for a quote inside and line breaks kept; records end with LF or CRLF.
 * Fields are trimmed of surrounding spaces unless quoted. Blank lines are
 * skipped. Every record knows the line it starts on, so an error names it.
 */
#ifndef LIAISON_INTAKE_INTAKE_CSV_H
#define LIAISON_INTAKE_INTAKE_CSV_H

#include <stddef.h>

typedef struct {
    char **fields;
    size_t n;
    int line; /* 1-based line where the record starts */
} intake_csv_row_t;

/* Parse text[len]. 0 with *rows (free with intake_csv_free), or -1 with a
 * reason in err and the line in *err_line (an unterminated quote, a quote
 * inside an unquoted field, text after a closing quote). */
int intake_csv_parse(const char *text, size_t len, intake_csv_row_t **rows, size_t *n_rows,
                     char *err, size_t errsize, int *err_line);
void intake_csv_free(intake_csv_row_t *rows, size_t n_rows);

#endif
