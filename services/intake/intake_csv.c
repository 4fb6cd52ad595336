/* intake_csv — see intake_csv.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake_csv.h"

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

static int s_put(sbuf_t *b, char c)
{
    if (b->len + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char *n = realloc(b->buf, cap);
        if (!n)
            return -1;
        b->buf = n;
        b->cap = cap;
    }
    b->buf[b->len++] = c;
    b->buf[b->len] = '\0';
    return 0;
}

static char *s_take(sbuf_t *b, bool quoted)
{
    char *s = b->buf ? b->buf : strdup("");
    b->buf = NULL;
    if (s && !quoted) {
        size_t n = b->len;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        size_t i = 0;
        while (s[i] == ' ' || s[i] == '\t')
            i++;
        if (i)
            memmove(s, s + i, n - i + 1);
    }
    b->len = b->cap = 0;
    return s;
}

static int s_add_field(intake_csv_row_t *row, char *field)
{
    if (!field)
        return -1;
    char **f = realloc(row->fields, (row->n + 1) * sizeof *f);
    if (!f) {
        free(field);
        return -1;
    }
    row->fields = f;
    row->fields[row->n++] = field;
    return 0;
}

static bool s_blank(const intake_csv_row_t *row)
{
    return row->n == 1 && row->fields[0][0] == '\0';
}

void intake_csv_free(intake_csv_row_t *rows, size_t n_rows)
{
    for (size_t i = 0; i < n_rows; i++) {
        for (size_t j = 0; j < rows[i].n; j++)
            free(rows[i].fields[j]);
        free(rows[i].fields);
    }
    free(rows);
}

int intake_csv_parse(const char *text, size_t len, intake_csv_row_t **rows_out, size_t *n_out,
                     char *err, size_t errsize, int *err_line)
{
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    intake_csv_row_t *rows = NULL;
    size_t n = 0;
    int line = 1;
    intake_csv_row_t row = {NULL, 0, line};
    sbuf_t b = {0};
    bool quoted = false;      /* the current field started with a quote */
    bool in_quotes = false;   /* inside the quotes */
    bool after_quote = false; /* the closing quote was seen */
    *err_line = 0;
    while (i <= len) {
        char c = i < len ? text[i] : '\n';
        bool end_of_text = i == len;
        i++;
        if (in_quotes) {
            if (end_of_text) {
                snprintf(err, errsize, "a quoted field is not closed");
                *err_line = row.line;
                goto fail;
            }
            if (c == '"') {
                if (i < len && text[i] == '"') {
                    if (s_put(&b, '"'))
                        goto oom;
                    i++;
                } else {
                    in_quotes = false;
                    after_quote = true;
                }
            } else {
                if (c == '\n')
                    line++;
                if (s_put(&b, c))
                    goto oom;
            }
            continue;
        }
        if (c == ',') {
            if (s_add_field(&row, s_take(&b, quoted)))
                goto oom;
            quoted = after_quote = false;
        } else if (c == '\n' || (c == '\r' && (i >= len || text[i] == '\n'))) {
            if (c == '\r')
                i++;
            if (s_add_field(&row, s_take(&b, quoted)))
                goto oom;
            if (!s_blank(&row)) {
                intake_csv_row_t *r = realloc(rows, (n + 1) * sizeof *r);
                if (!r)
                    goto oom;
                rows = r;
                rows[n++] = row;
            } else {
                free(row.fields[0]);
                free(row.fields);
            }
            line++;
            row = (intake_csv_row_t){NULL, 0, line};
            quoted = after_quote = false;
            if (end_of_text)
                break;
        } else if (c == '"') {
            bool only_spaces = true;
            for (size_t k = 0; k < b.len; k++)
                only_spaces = only_spaces && (b.buf[k] == ' ' || b.buf[k] == '\t');
            if (after_quote || !only_spaces) {
                snprintf(err, errsize,
                         "a quote inside an unquoted field (write \"\" inside quotes)");
                *err_line = line;
                goto fail;
            }
            b.len = 0;
            if (b.buf)
                b.buf[0] = '\0';
            quoted = in_quotes = true;
        } else {
            if (after_quote && c != ' ' && c != '\t') {
                snprintf(err, errsize, "text after a closing quote");
                *err_line = line;
                goto fail;
            }
            if (!after_quote && s_put(&b, c))
                goto oom;
        }
    }
    free(b.buf);
    *rows_out = rows;
    *n_out = n;
    return 0;
oom:
    snprintf(err, errsize, "out of memory");
    *err_line = line;
fail:
    free(b.buf);
    for (size_t k = 0; k < row.n; k++)
        free(row.fields[k]);
    free(row.fields);
    intake_csv_free(rows, n);
    return -1;
}
