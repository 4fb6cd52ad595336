/* liaisonctl migrate — apply the SQL migrations of every service.
 *
 *   liaisonctl migrate [--admin-config FILE] [--status | --dry-run]
 *
 * Layout: <sql_dir>/<service>/NNN_name.sql, NNN the version (001, 002, …),
 * for the services intake, routing, deadline, notify and report. Each
 * service has one schema and one login role, liaison_<service>, which may
 * use only its own schema (ARCHITECTURE.md §1).
 *
 * What a run does, connected as the administrator (pg_dsn):
 *
 *   1. takes a session advisory lock, so two migrators never interleave;
 *   2. bootstraps, in one transaction: the roles (created if missing,
 *      LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS,
 *      password from <secrets_dir>/<service>.pw when that file exists, sent
 *      as a SCRAM verifier so the clear password never reaches the server's
 *      logs), CONNECT on this database for them and nobody else, nothing on
 *      schema public, and the record table liaison_meta.migrations, which
 *      the roles may read (a daemon checks its schema version at start);
 *   3. checks every file against the record before applying any: a file
 *      whose sha256 differs from the one recorded when it was applied is an
 *      error naming the file (write a new migration instead); so is an
 *      applied migration whose file is gone, or a pending version below one
 *      already applied;
 *   4. applies each pending file in version order, each in its own
 *      transaction together with its record row. A failing statement rolls
 *      back that file only and stops the run; the message names the file,
 *      the line and the statement.
 *
 * A file runs as its service's role (SET LOCAL ROLE liaison_<service>) with
 * search_path = <service>, so every object it creates is owned by that role
 * and it cannot touch another schema. A file whose first line is
 * "-- liaison-migrate: superuser" runs as the administrator instead: the
 * first migration, which creates the schema, and the rare one that needs
 * an extension. Files are split into statements here (quotes, dollar
 * quotes and comments understood) and sent one by one, so an error points
 * at its statement; a file must not BEGIN or COMMIT itself.
 *
 * SQL shared by several services lives in <sql_dir>/_<name>/ and is taken
 * by each service through a symbolic link (<service>/NNN_x.sql ->
 * ../_<name>/NNN_x.sql): written with unqualified names, it creates its
 * objects in the schema of the service that applies it.
 *
 * --status lists every migration as applied, pending, changed or missing;
 * --dry-run says what a run would do and changes nothing.
 * Exit codes: 0 done, 1 failure (database, files, checksum), 2 usage.
 *
 * This is a command-line tool, so it uses blocking libpq.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "ctl/ctl.h"

#define MIGRATE_DEFAULT_CONFIG      "var/admin.conf"
#define MIGRATE_DEFAULT_SQL_DIR     "deploy/sql"
#define MIGRATE_DEFAULT_SECRETS_DIR "var/secrets"
/* The advisory lock every migrator takes: the bytes of "liaison" as a bigint. */
#define MIGRATE_LOCK_KEY            "30515164586667886"
#define MIGRATE_LOCK_WAIT           "120s"
#define MIGRATE_LOCK_TIMEOUT        "30s"
#define MIGRATE_MAX_FILE            (16u << 20)
#define MIGRATE_SUPERUSER_DIRECTIVE "-- liaison-migrate: superuser"

/* In dependency order of their event streams (ARCHITECTURE.md §1). */
static const char *const s_services[] = {"intake", "routing", "deadline", "notify", "report"};
#define SERVICE_COUNT (sizeof s_services / sizeof s_services[0])

typedef struct {
    char *pg_dsn;
    char *sql_dir;
    char *secrets_dir;
} migrate_config_t;

typedef struct {
    const char *service; /* one of s_services */
    int version;
    char *name; /* file name, "001_schema.sql" */
    char *path;
    char *sql; /* the file's bytes, NUL-terminated */
    size_t len;
    char sha256[65];
    bool superuser;
} migration_t;

typedef struct {
    char *service;
    int version;
    char *name;
    char *sha256;
    char *applied_at;
    bool seen; /* matched by a file */
} record_t;

typedef struct {
    migration_t *files;
    size_t n_files;
    record_t *records;
    size_t n_records;
} plan_t;

typedef struct {
    char *text;
    int line; /* 1-based line where the statement's first token is */
} statement_t;

static void s_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("liaisonctl migrate: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: liaisonctl migrate [--admin-config FILE] [--status | --dry-run]\n"
            "\n"
            "Apply the SQL migrations of every service (deploy/sql/<service>/NNN_name.sql),\n"
            "creating the services' login roles and the record table liaison_meta.migrations.\n"
            "\n"
            "  --admin-config FILE  INI file with a [migrate] section: pg_dsn (required),\n"
            "                       sql_dir (default %s), secrets_dir (default %s);\n"
            "                       default %s\n"
            "  --status             list each migration: applied, pending, changed or missing\n"
            "  --dry-run            show what would be done, change nothing\n"
            "  -h, --help           this text\n"
            "\n"
            "exit status: 0 done, 1 failure, 2 usage\n",
            MIGRATE_DEFAULT_SQL_DIR, MIGRATE_DEFAULT_SECRETS_DIR, MIGRATE_DEFAULT_CONFIG);
}

static char *s_strdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL) {
        s_error("out of memory");
        exit(CTL_EXIT_FAILURE);
    }
    return d;
}

static void *s_grow(void *ptr, size_t n, size_t size)
{
    void *p = reallocarray(ptr, n, size);
    if (p == NULL) {
        s_error("out of memory");
        exit(CTL_EXIT_FAILURE);
    }
    return p;
}

/* ---- the admin configuration --------------------------------------------- */

static char *s_trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static void s_config_release(migrate_config_t *c)
{
    free(c->pg_dsn);
    free(c->sql_dir);
    free(c->secrets_dir);
    memset(c, 0, sizeof *c);
}

/* The [migrate] section of a small INI file; other sections are left to
 * their own readers. Returns 0, or -1 after printing FILE:LINE: messages. */
static int s_config_load(migrate_config_t *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        s_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, errors = 0;
    bool in_migrate = false;
    int set_on[3] = {0, 0, 0};
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        char *s = s_trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end == NULL || *s_trim(end + 1) != '\0') {
                s_error("%s:%d: syntax error: expected \"[section]\" or \"key = value\"", path,
                        lineno);
                errors++;
                continue;
            }
            *end = '\0';
            in_migrate = strcmp(s_trim(s + 1), "migrate") == 0;
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            s_error("%s:%d: syntax error: expected \"[section]\" or \"key = value\"", path, lineno);
            errors++;
            continue;
        }
        if (!in_migrate)
            continue;
        *eq = '\0';
        char *key = s_trim(s), *value = s_trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        char **slot;
        int idx;
        if (strcmp(key, "pg_dsn") == 0) {
            slot = &c->pg_dsn;
            idx = 0;
        } else if (strcmp(key, "sql_dir") == 0) {
            slot = &c->sql_dir;
            idx = 1;
        } else if (strcmp(key, "secrets_dir") == 0) {
            slot = &c->secrets_dir;
            idx = 2;
        } else {
            s_error("%s:%d: [migrate] unknown key \"%s\"", path, lineno, key);
            errors++;
            continue;
        }
        if (set_on[idx]) {
            s_error("%s:%d: [migrate] duplicate key \"%s\" (first set on line %d)", path, lineno,
                    key, set_on[idx]);
            errors++;
            continue;
        }
        if (*value == '\0') {
            s_error("%s:%d: [migrate] %s: empty value", path, lineno, key);
            errors++;
            continue;
        }
        set_on[idx] = lineno;
        *slot = s_strdup(value);
    }
    free(line);
    fclose(f);
    if (errors == 0 && c->pg_dsn == NULL) {
        s_error("%s: [migrate] pg_dsn is missing", path);
        errors++;
    }
    if (c->sql_dir == NULL)
        c->sql_dir = s_strdup(MIGRATE_DEFAULT_SQL_DIR);
    if (c->secrets_dir == NULL)
        c->secrets_dir = s_strdup(MIGRATE_DEFAULT_SECRETS_DIR);
    return errors ? -1 : 0;
}

/* ---- migration files ----------------------------------------------------- */

static int s_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        s_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > MIGRATE_MAX_FILE) {
        s_error("%s: cannot read, or larger than %u bytes", path, MIGRATE_MAX_FILE);
        fclose(f);
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        s_error("out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    bool bad = ferror(f) != 0 || n != (size_t)st.st_size;
    fclose(f);
    if (bad) {
        s_error("%s: read error", path);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL) {
        s_error("%s: contains a NUL byte; a migration is UTF-8 text", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int s_sha256_hex(const char *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* "NNN_name.sql" with NNN digits and name [a-z0-9_]+; returns the version,
 * 0 when the name does not follow the rule. */
static int s_parse_name(const char *name)
{
    size_t len = strlen(name);
    if (len < 9 || strcmp(name + len - 4, ".sql") != 0)
        return 0;
    if (!isdigit((unsigned char)name[0]) || !isdigit((unsigned char)name[1]) ||
        !isdigit((unsigned char)name[2]) || name[3] != '_')
        return 0;
    for (size_t i = 4; i < len - 4; i++) {
        char ch = name[i];
        if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '_'))
            return 0;
    }
    return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static int s_cmp_migration(const void *a, const void *b)
{
    const migration_t *x = a, *y = b;
    if (x->service != y->service) {
        size_t ix = 0, iy = 0;
        for (size_t i = 0; i < SERVICE_COUNT; i++) {
            if (s_services[i] == x->service)
                ix = i;
            if (s_services[i] == y->service)
                iy = i;
        }
        return ix < iy ? -1 : 1;
    }
    return x->version < y->version ? -1 : x->version > y->version;
}

static int s_load_files(plan_t *plan, const char *sql_dir)
{
    int errors = 0;
    DIR *top = opendir(sql_dir);
    if (top == NULL) {
        s_error("%s: cannot open the SQL directory: %s", sql_dir, strerror(errno));
        return -1;
    }
    /* Every directory must be a known service: a typo must not be skipped.
     * A directory whose name starts with '_' holds SQL shared by several
     * services (the bus tables in _bus): a service takes such a file by a
     * symbolic link in its own directory, so it runs, is versioned and is
     * recorded as that service's migration, in that service's schema. */
    struct dirent *de;
    while ((de = readdir(top)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        bool known = false;
        for (size_t i = 0; i < SERVICE_COUNT; i++)
            known = known || strcmp(de->d_name, s_services[i]) == 0;
        if (!known) {
            s_error(
                "%s/%s: not a service (expected one of intake, routing, deadline, notify, report)",
                sql_dir, de->d_name);
            errors++;
        }
    }
    closedir(top);

    for (size_t si = 0; si < SERVICE_COUNT; si++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", sql_dir, s_services[si]);
        DIR *d = opendir(dir);
        if (d == NULL) {
            if (errno == ENOENT)
                continue;
            s_error("%s: cannot open: %s", dir, strerror(errno));
            errors++;
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            const char *name = de->d_name;
            size_t nl = strlen(name);
            if (name[0] == '.' || nl < 4 || strcmp(name + nl - 4, ".sql") != 0)
                continue; /* README and the like */
            int version = s_parse_name(name);
            if (version == 0) {
                s_error("%s/%s: a migration is named NNN_name.sql (NNN from 001, name in "
                        "lower case, digits and _)",
                        dir, name);
                errors++;
                continue;
            }
            plan->files = s_grow(plan->files, plan->n_files + 1, sizeof *plan->files);
            migration_t *m = &plan->files[plan->n_files++];
            memset(m, 0, sizeof *m);
            m->service = s_services[si];
            m->version = version;
            m->name = s_strdup(name);
            char path[4600];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            m->path = s_strdup(path);
            if (s_read_file(m->path, &m->sql, &m->len) != 0 ||
                s_sha256_hex(m->sql, m->len, m->sha256) != 0) {
                errors++;
                continue;
            }
            m->superuser = strncmp(m->sql, MIGRATE_SUPERUSER_DIRECTIVE,
                                   strlen(MIGRATE_SUPERUSER_DIRECTIVE)) == 0;
        }
        closedir(d);
    }
    if (plan->n_files > 1)
        qsort(plan->files, plan->n_files, sizeof *plan->files, s_cmp_migration);
    for (size_t i = 1; i < plan->n_files; i++) {
        const migration_t *a = &plan->files[i - 1], *b = &plan->files[i];
        if (a->service == b->service && a->version == b->version) {
            s_error("%s and %s: two migrations with version %03d", a->path, b->path, a->version);
            errors++;
        }
    }
    return errors ? -1 : 0;
}

/* ---- splitting a file into statements ------------------------------------ */

static bool s_ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || (unsigned char)ch >= 0x80 || ch == '$';
}

/* Length of a dollar-quote tag ("$tag$" or "$$") starting at s, or 0. */
static size_t s_dollar_tag(const char *s)
{
    if (s[0] != '$')
        return 0;
    size_t i = 1;
    if (s[1] == '$')
        return 2;
    if (!(isalpha((unsigned char)s[1]) || s[1] == '_' || (unsigned char)s[1] >= 0x80))
        return 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '_' || (unsigned char)s[i] >= 0x80)
        i++;
    return s[i] == '$' ? i + 1 : 0;
}

static void s_statements_free(statement_t *st, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(st[i].text);
    free(st);
}

/* Split sql at top-level semicolons. Comments stay in the text (the server
 * ignores them); statements that are only comments are dropped. Returns 0,
 * or -1 after naming the unterminated construct. */
static int s_split(const char *path, const char *sql, statement_t **out, size_t *n_out)
{
    statement_t *st = NULL;
    size_t n = 0;
    int line = 1, start_line = 0;
    const char *start = sql, *p = sql;
    bool code = false; /* the current statement has a token that is not a comment */

    while (*p) {
        char ch = *p;
        if (ch == '\n') {
            line++;
            p++;
            continue;
        }
        if (ch == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (ch == '/' && p[1] == '*') {
            int depth = 0, at = line;
            do {
                if (*p == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (*p == '*' && p[1] == '/') {
                    depth--;
                    p += 2;
                } else {
                    if (*p == '\n')
                        line++;
                    p++;
                }
            } while (*p && depth > 0);
            if (depth > 0) {
                s_error("%s:%d: unterminated /* comment", path, at);
                goto fail;
            }
            continue;
        }
        if (isspace((unsigned char)ch)) {
            p++;
            continue;
        }
        if (!code) {
            code = true;
            start_line = line;
        }
        if (ch == '\'' || ch == '"') {
            /* E'...' strings take backslash escapes; the others double the quote. */
            bool backslash = ch == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                             (p - 1 == sql || !s_ident_char(p[-2]));
            int at = line;
            p++;
            for (;;) {
                if (*p == '\0') {
                    s_error("%s:%d: unterminated %s", path, at,
                            ch == '\'' ? "string literal" : "quoted identifier");
                    goto fail;
                }
                if (*p == '\n')
                    line++;
                if (backslash && *p == '\\' && p[1]) {
                    if (p[1] == '\n')
                        line++;
                    p += 2;
                    continue;
                }
                if (*p == ch) {
                    if (p[1] == ch) {
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                p++;
            }
            continue;
        }
        if (ch == '$' && (p == sql || !s_ident_char(p[-1]))) {
            size_t tl = s_dollar_tag(p);
            if (tl > 0) {
                int at = line;
                const char *body = p + tl;
                const char *end = body;
                for (;;) {
                    end = strchr(end, '$');
                    if (end == NULL || strncmp(end, p, tl) == 0)
                        break;
                    end++;
                }
                if (end == NULL) {
                    s_error("%s:%d: unterminated dollar-quoted string %.*s", path, at, (int)tl, p);
                    goto fail;
                }
                for (const char *q = p; q < end + tl; q++)
                    if (*q == '\n')
                        line++;
                p = end + tl;
                continue;
            }
        }
        if (ch == ';') {
            st = s_grow(st, n + 1, sizeof *st);
            st[n].text = strndup(start, (size_t)(p - start));
            st[n].line = start_line;
            if (st[n].text == NULL) {
                s_error("out of memory");
                goto fail;
            }
            n++;
            p++;
            start = p;
            code = false;
            continue;
        }
        p++;
    }
    if (code) { /* the last statement may omit its semicolon */
        st = s_grow(st, n + 1, sizeof *st);
        st[n].text = strdup(start);
        st[n].line = start_line;
        if (st[n].text == NULL) {
            s_error("out of memory");
            goto fail;
        }
        n++;
    }
    *out = st;
    *n_out = n;
    return 0;
fail:
    s_statements_free(st, n);
    return -1;
}

/* The statement's first word, upper-cased, skipping comments and blanks. */
static void s_first_word(const char *s, char *word, size_t cap)
{
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : s + strlen(s);
        } else {
            break;
        }
    }
    size_t i = 0;
    while (i + 1 < cap && isalpha((unsigned char)s[i])) {
        word[i] = (char)toupper((unsigned char)s[i]);
        i++;
    }
    word[i] = '\0';
}

/* ---- the database -------------------------------------------------------- */

/* Run one command; on failure print what failed and return -1. */
static int s_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                  const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        s_error("%s: %s", what, msg ? msg : PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static PGresult *s_query(PGconn *conn, const char *what, const char *sql, int nparams,
                         const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        s_error("%s: %s", what, msg ? msg : PQerrorMessage(conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

static void s_rollback(PGconn *conn)
{
    PGresult *res = PQexec(conn, "ROLLBACK");
    PQclear(res);
}

static PGconn *s_connect(const char *dsn)
{
    /* Defaults first: anything the DSN says wins. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "liaisonctl-migrate", dsn, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory\n";
        fprintf(stderr, "liaisonctl migrate: cannot connect to PostgreSQL: %s", msg);
        PQfinish(conn);
        return NULL;
    }
    /* Quiet the server's NOTICEs ("schema already exists, skipping"). */
    if (s_exec(conn, "session setup", "SET client_min_messages = warning", 0, NULL) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static int s_lock(PGconn *conn)
{
    PGresult *res = s_query(conn, "advisory lock",
                            "SELECT pg_try_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    if (res == NULL)
        return -1;
    bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (got)
        return 0;
    fprintf(stderr, "liaisonctl migrate: another migrator holds the lock; waiting up to %s\n",
            MIGRATE_LOCK_WAIT);
    if (s_exec(conn, "lock timeout", "SET lock_timeout = '" MIGRATE_LOCK_WAIT "'", 0, NULL) != 0)
        return -1;
    int rc =
        s_exec(conn, "advisory lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    return rc;
}

static bool s_meta_exists(PGconn *conn, int *failed)
{
    PGresult *res = s_query(conn, "reading the migration record",
                            "SELECT to_regclass('liaison_meta.migrations') IS NOT NULL", 0, NULL);
    if (res == NULL) {
        *failed = 1;
        return false;
    }
    bool yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return yes;
}

static int s_load_records(PGconn *conn, plan_t *plan)
{
    int failed = 0;
    if (!s_meta_exists(conn, &failed))
        return failed ? -1 : 0;
    PGresult *res =
        s_query(conn, "reading the migration record",
                "SELECT service, version, name, sha256,"
                " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || 'Z'"
                " FROM liaison_meta.migrations ORDER BY service, version",
                0, NULL);
    if (res == NULL)
        return -1;
    int rows = PQntuples(res);
    plan->records = s_grow(NULL, (size_t)rows + 1, sizeof *plan->records);
    for (int r = 0; r < rows; r++) {
        record_t *rec = &plan->records[plan->n_records++];
        rec->service = s_strdup(PQgetvalue(res, r, 0));
        rec->version = atoi(PQgetvalue(res, r, 1));
        rec->name = s_strdup(PQgetvalue(res, r, 2));
        rec->sha256 = s_strdup(PQgetvalue(res, r, 3));
        rec->applied_at = s_strdup(PQgetvalue(res, r, 4));
        rec->seen = false;
    }
    PQclear(res);
    return 0;
}

static record_t *s_record_of(plan_t *plan, const migration_t *m)
{
    for (size_t i = 0; i < plan->n_records; i++)
        if (plan->records[i].version == m->version &&
            strcmp(plan->records[i].service, m->service) == 0)
            return &plan->records[i];
    return NULL;
}

static void s_plan_release(plan_t *plan)
{
    for (size_t i = 0; i < plan->n_files; i++) {
        free(plan->files[i].name);
        free(plan->files[i].path);
        free(plan->files[i].sql);
    }
    free(plan->files);
    for (size_t i = 0; i < plan->n_records; i++) {
        free(plan->records[i].service);
        free(plan->records[i].name);
        free(plan->records[i].sha256);
        free(plan->records[i].applied_at);
    }
    free(plan->records);
    memset(plan, 0, sizeof *plan);
}

/* Step 3: files against the record. Returns the number of problems,
 * printed unless quiet (--status prints them in its table instead). */
static int s_check(plan_t *plan, bool quiet)
{
    int problems = 0;
    for (size_t i = 0; i < plan->n_files; i++) {
        migration_t *m = &plan->files[i];
        record_t *rec = s_record_of(plan, m);
        if (rec == NULL)
            continue;
        rec->seen = true;
        if (strcmp(rec->sha256, m->sha256) != 0) {
            if (!quiet)
                s_error(
                    "%s: changed after it was applied on %s (recorded sha256 %.12s…, file %.12s…); "
                    "an applied migration is never edited: add a new one",
                    m->path, rec->applied_at, rec->sha256, m->sha256);
            problems++;
        }
    }
    for (size_t i = 0; i < plan->n_records; i++) {
        record_t *rec = &plan->records[i];
        if (!rec->seen) {
            if (!quiet)
                s_error("%s %03d %s: applied on %s but its file is gone", rec->service,
                        rec->version, rec->name, rec->applied_at);
            problems++;
        }
    }
    /* A pending version below an applied one would run out of order. */
    for (size_t i = 0; i < plan->n_files; i++) {
        migration_t *m = &plan->files[i];
        if (s_record_of(plan, m) != NULL)
            continue;
        for (size_t j = 0; j < plan->n_records; j++) {
            record_t *rec = &plan->records[j];
            if (strcmp(rec->service, m->service) == 0 && rec->version > m->version) {
                if (!quiet)
                    s_error("%s: pending, but %s %03d is already applied; renumber it after %03d",
                            m->path, rec->service, rec->version, rec->version);
                problems++;
                break;
            }
        }
    }
    return problems;
}

static char *s_read_password(const char *secrets_dir, const char *service)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.pw", secrets_dir, service);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *pw = s_trim(buf);
    if (*pw == '\0')
        return NULL;
    char *out = s_strdup(pw);
    explicit_bzero(buf, sizeof buf);
    return out;
}

static bool s_role_exists(PGconn *conn, const char *role, int *failed)
{
    const char *params[] = {role};
    PGresult *res =
        s_query(conn, "looking up roles", "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, params);
    if (res == NULL) {
        *failed = 1;
        return false;
    }
    bool yes = PQntuples(res) == 1;
    PQclear(res);
    return yes;
}

/* Run BEFORE || quote_ident(ident) || AFTER, the identifier escaped by libpq. */
static int s_exec_ident(PGconn *conn, const char *what, const char *before, const char *ident,
                        const char *after)
{
    char *q = PQescapeIdentifier(conn, ident, strlen(ident));
    if (q == NULL) {
        s_error("%s: %s", what, PQerrorMessage(conn));
        return -1;
    }
    size_t need = strlen(before) + strlen(q) + strlen(after) + 1;
    char *sql = malloc(need);
    if (sql == NULL) {
        PQfreemem(q);
        s_error("out of memory");
        return -1;
    }
    snprintf(sql, need, "%s%s%s", before, q, after);
    PQfreemem(q);
    int rc = s_exec(conn, what, sql, 0, NULL);
    explicit_bzero(sql, need);
    free(sql);
    return rc;
}

/* Step 2, in one transaction. services[] are the services that have files. */
static int s_bootstrap(PGconn *conn, const migrate_config_t *cfg, const char *const *services,
                       size_t n)
{
    if (s_exec(conn, "bootstrap", "BEGIN", 0, NULL) != 0)
        return -1;
    PGresult *res = s_query(conn, "bootstrap", "SELECT current_database()", 0, NULL);
    if (res == NULL)
        goto fail;
    char *db = s_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);

    int rc = 0;
    rc |= s_exec(conn, "creating schema liaison_meta", "CREATE SCHEMA IF NOT EXISTS liaison_meta",
                 0, NULL);
    rc |= s_exec(conn, "securing schema liaison_meta",
                 "REVOKE ALL ON SCHEMA liaison_meta FROM PUBLIC", 0, NULL);
    rc |= s_exec(conn, "creating liaison_meta.migrations",
                 "CREATE TABLE IF NOT EXISTS liaison_meta.migrations ("
                 " service text NOT NULL,"
                 " version integer NOT NULL CHECK (version > 0),"
                 " name text NOT NULL,"
                 " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
                 " applied_at timestamptz NOT NULL DEFAULT now(),"
                 " applied_by text NOT NULL DEFAULT current_user,"
                 " PRIMARY KEY (service, version))",
                 0, NULL);
    rc |= s_exec(conn, "commenting liaison_meta.migrations",
                 "COMMENT ON TABLE liaison_meta.migrations IS "
                 "'Migrations applied by liaisonctl migrate: one row per file, with its sha256'",
                 0, NULL);
    /* Only our roles connect; nobody creates in public (PG 15 already
     * revokes CREATE there; say it anyway, and USAGE too). */
    rc |=
        s_exec_ident(conn, "securing the database", "REVOKE ALL ON DATABASE ", db, " FROM PUBLIC");
    rc |=
        s_exec(conn, "securing schema public", "REVOKE ALL ON SCHEMA public FROM PUBLIC", 0, NULL);
    if (rc != 0)
        goto fail_db;

    for (size_t i = 0; i < n; i++) {
        char role[64];
        snprintf(role, sizeof role, "liaison_%s", services[i]);
        int failed = 0;
        bool exists = s_role_exists(conn, role, &failed);
        if (failed)
            goto fail_db;
        const char *attrs = " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
        if (!exists) {
            if (s_exec_ident(conn, "creating a role", "CREATE ROLE ", role, attrs) != 0)
                goto fail_db;
            printf("created role %s\n", role);
        } else if (s_exec_ident(conn, "securing a role", "ALTER ROLE ", role, attrs) != 0) {
            goto fail_db;
        }
        char *pw = s_read_password(cfg->secrets_dir, services[i]);
        if (pw != NULL) {
            /* A SCRAM verifier, computed here: the password itself never
             * travels in a statement the server could log. */
            char *verifier = PQencryptPasswordConn(conn, pw, role, NULL);
            explicit_bzero(pw, strlen(pw));
            free(pw);
            if (verifier == NULL) {
                s_error("setting the password of %s: %s", role, PQerrorMessage(conn));
                goto fail_db;
            }
            char *lit = PQescapeLiteral(conn, verifier, strlen(verifier));
            PQfreemem(verifier);
            if (lit == NULL) {
                s_error("setting the password of %s: %s", role, PQerrorMessage(conn));
                goto fail_db;
            }
            char tail[512];
            snprintf(tail, sizeof tail, " PASSWORD %s", lit);
            PQfreemem(lit);
            rc = s_exec_ident(conn, "setting a role's password", "ALTER ROLE ", role, tail);
            explicit_bzero(tail, sizeof tail);
            if (rc != 0)
                goto fail_db;
        } else if (!exists) {
            fprintf(stderr, "liaisonctl migrate: no %s/%s.pw: role %s has no password yet\n",
                    cfg->secrets_dir, services[i], role);
        }
        char grant[256];
        snprintf(grant, sizeof grant, " TO %s",
                 role); /* role names are [a-z_]: no quoting needed */
        rc |= s_exec_ident(conn, "granting CONNECT", "GRANT CONNECT, TEMPORARY ON DATABASE ", db,
                           grant);
        rc |= s_exec_ident(conn, "granting the record", "GRANT USAGE ON SCHEMA liaison_meta TO ",
                           role, "");
        rc |= s_exec_ident(conn, "granting the record",
                           "GRANT SELECT ON liaison_meta.migrations TO ", role, "");
        if (rc != 0)
            goto fail_db;
    }
    free(db);
    return s_exec(conn, "bootstrap", "COMMIT", 0, NULL);
fail_db:
    free(db);
fail:
    s_rollback(conn);
    return -1;
}

/* Print "  statement: …" on one line, blanks collapsed, at most ~240 bytes
 * cut on a UTF-8 boundary. */
static void s_print_statement(const char *text)
{
    fputs("  statement: ", stderr);
    size_t out = 0;
    bool space = false, started = false;
    for (const char *p = text; *p; p++) {
        if (p[0] == '-' && p[1] == '-' && !started) {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                break;
            continue;
        }
        if (isspace((unsigned char)*p)) {
            space = started;
            continue;
        }
        if (out >= 240 && ((unsigned char)*p & 0xc0) != 0x80) {
            fputs(" …", stderr);
            break;
        }
        if (space) {
            fputc(' ', stderr);
            out++;
            space = false;
        }
        fputc(*p, stderr);
        started = true;
        out++;
    }
    fputc('\n', stderr);
}

/* The line of the error inside the statement: PostgreSQL reports a
 * position in characters (UTF-8 here), from 1. */
static int s_error_line(const statement_t *st, const char *position)
{
    long pos = position ? strtol(position, NULL, 10) : 0;
    if (pos <= 0)
        return st->line;
    /* st->line is the first token's line; count from the text's start. */
    int line = st->line;
    const char *p = st->text;
    const char *first = p;
    while (*first && (isspace((unsigned char)*first) || (first[0] == '-' && first[1] == '-'))) {
        if (first[0] == '-') {
            while (*first && *first != '\n')
                first++;
        } else {
            first++;
        }
    }
    for (const char *q = p; q < first; q++)
        if (*q == '\n')
            line--;
    long chars = 0;
    for (; *p && chars < pos - 1; p++) {
        if (((unsigned char)*p & 0xc0) != 0x80)
            chars++;
        if (*p == '\n')
            line++;
    }
    return line;
}

static int s_apply(PGconn *conn, const migration_t *m)
{
    statement_t *st = NULL;
    size_t n = 0;
    if (s_split(m->path, m->sql, &st, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char word[16];
        s_first_word(st[i].text, word, sizeof word);
        if (strcmp(word, "BEGIN") == 0 || strcmp(word, "COMMIT") == 0 ||
            strcmp(word, "ROLLBACK") == 0 || strcmp(word, "START") == 0 ||
            strcmp(word, "END") == 0 || strcmp(word, "ABORT") == 0) {
            s_error(
                "%s:%d: %s: a migration runs in a transaction of its own and must not manage it",
                m->path, st[i].line, word);
            s_statements_free(st, n);
            return -1;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    char role[64];
    snprintf(role, sizeof role, "liaison_%s", m->service);
    if (s_exec(conn, m->path, "BEGIN", 0, NULL) != 0)
        goto fail;
    if (s_exec_ident(conn, m->path, "SET LOCAL search_path = ", m->service, "") != 0)
        goto fail_tx;
    if (!m->superuser && s_exec_ident(conn, m->path, "SET LOCAL ROLE ", role, "") != 0)
        goto fail_tx;
    for (size_t i = 0; i < n; i++) {
        PGresult *res = PQexecParams(conn, st[i].text, 0, NULL, NULL, NULL, NULL, 0);
        ExecStatusType rs = PQresultStatus(res);
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK && rs != PGRES_EMPTY_QUERY) {
            const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
            const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
            const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
            const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
            fprintf(stderr, "liaisonctl migrate: %s:%d: %s: %s (SQLSTATE %s)\n", m->path,
                    s_error_line(&st[i], pos), sev ? sev : "ERROR",
                    msg ? msg : PQerrorMessage(conn), code ? code : "?");
            s_print_statement(st[i].text);
            if (detail)
                fprintf(stderr, "  detail: %s\n", detail);
            if (hint)
                fprintf(stderr, "  hint: %s\n", hint);
            PQclear(res);
            goto fail_tx;
        }
        PQclear(res);
    }
    /* The record row, as the administrator, in the same transaction. */
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {m->service, version, m->name, m->sha256};
    if (s_exec(conn, m->path, "RESET ROLE", 0, NULL) != 0 ||
        s_exec(conn, m->path,
               "INSERT INTO liaison_meta.migrations (service, version, name, sha256)"
               " VALUES ($1, $2::integer, $3, $4)",
               4, params) != 0 ||
        s_exec(conn, m->path, "COMMIT", 0, NULL) != 0)
        goto fail_tx;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("applied %s/%s (%zu statements, %ld ms)\n", m->service, m->name, n, ms);
    s_statements_free(st, n);
    return 0;
fail_tx:
    s_rollback(conn);
    s_error("%s rolled back; migrations applied before it stay applied", m->path);
fail:
    s_statements_free(st, n);
    return -1;
}

/* ---- the three modes ----------------------------------------------------- */

static int s_status(plan_t *plan)
{
    int problems = s_check(plan, true);
    printf("%-9s %-7s %-32s %-8s %s\n", "SERVICE", "VERSION", "NAME", "STATE", "APPLIED AT");
    for (size_t i = 0; i < plan->n_files; i++) {
        const migration_t *m = &plan->files[i];
        const record_t *rec = s_record_of(plan, m);
        const char *state = rec == NULL                      ? "pending"
                            : strcmp(rec->sha256, m->sha256) ? "changed"
                                                             : "applied";
        printf("%-9s %03d     %-32s %-8s %s\n", m->service, m->version, m->name, state,
               rec ? rec->applied_at : "-");
    }
    for (size_t i = 0; i < plan->n_records; i++) {
        const record_t *rec = &plan->records[i];
        if (!rec->seen)
            printf("%-9s %03d     %-32s %-8s %s\n", rec->service, rec->version, rec->name,
                   "missing", rec->applied_at);
    }
    if (problems) {
        s_error("%d problem%s: see \"changed\" and \"missing\" above", problems,
                problems == 1 ? "" : "s");
        return CTL_EXIT_FAILURE;
    }
    return CTL_EXIT_OK;
}

static int s_run(PGconn *conn, const migrate_config_t *cfg, plan_t *plan, bool dry_run)
{
    if (s_check(plan, false) != 0)
        return CTL_EXIT_FAILURE;

    const char *services[SERVICE_COUNT];
    size_t n_services = 0;
    for (size_t si = 0; si < SERVICE_COUNT; si++)
        for (size_t i = 0; i < plan->n_files; i++)
            if (plan->files[i].service == s_services[si]) {
                services[n_services++] = s_services[si];
                break;
            }

    if (dry_run) {
        for (size_t i = 0; i < n_services; i++) {
            char role[64];
            snprintf(role, sizeof role, "liaison_%s", services[i]);
            int failed = 0;
            if (!s_role_exists(conn, role, &failed))
                printf("would create role %s\n", role);
            if (failed)
                return CTL_EXIT_FAILURE;
        }
    } else if (s_bootstrap(conn, cfg, services, n_services) != 0) {
        return CTL_EXIT_FAILURE;
    }
    if (!dry_run &&
        s_exec(conn, "lock timeout", "SET lock_timeout = '" MIGRATE_LOCK_TIMEOUT "'", 0, NULL))
        return CTL_EXIT_FAILURE;

    size_t applied = 0, pending = 0;
    for (size_t i = 0; i < plan->n_files; i++) {
        const migration_t *m = &plan->files[i];
        if (s_record_of(plan, m) != NULL)
            continue;
        pending++;
        if (dry_run) {
            printf("would apply %s/%s%s\n", m->service, m->name,
                   m->superuser ? " (as administrator)" : "");
            continue;
        }
        if (s_apply(conn, m) != 0)
            return CTL_EXIT_FAILURE;
        applied++;
    }
    if (dry_run)
        printf("dry run: %zu pending, %zu applied, nothing changed\n", pending,
               plan->n_files - pending);
    else if (applied == 0)
        printf("up to date: %zu migrations of %zu services applied\n", plan->n_files, n_services);
    else
        printf("%zu applied, %zu already applied\n", applied, plan->n_files - applied);
    return CTL_EXIT_OK;
}

int ctl_migrate(int argc, char **argv)
{
    const char *config_path = MIGRATE_DEFAULT_CONFIG;
    bool status = false, dry_run = false;
    static const struct option opts[] = {
        {"admin-config", required_argument, NULL, 'c'},
        {"status", no_argument, NULL, 's'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            status = true;
            break;
        case 'n':
            dry_run = true;
            break;
        case 'h':
            s_usage(stdout);
            return CTL_EXIT_OK;
        default:
            if (optopt == 'c')
                s_error("--admin-config needs a file");
            else
                s_error("unknown option \"%s\"", argv[optind - 1]);
            s_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        s_error("unexpected argument \"%s\"", argv[optind]);
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (status && dry_run) {
        s_error("--status and --dry-run do not go together");
        return CTL_EXIT_USAGE;
    }

    migrate_config_t cfg = {0};
    plan_t plan = {0};
    PGconn *conn = NULL;
    int rc = CTL_EXIT_FAILURE;
    if (s_config_load(&cfg, config_path) != 0)
        goto done;
    if (s_load_files(&plan, cfg.sql_dir) != 0)
        goto done;
    if (plan.n_files == 0) {
        s_error("%s: no migration found", cfg.sql_dir);
        goto done;
    }
    conn = s_connect(cfg.pg_dsn);
    if (conn == NULL)
        goto done;
    /* --status only reads: no lock, so it answers while a migration runs. */
    if (!status && s_lock(conn) != 0)
        goto done;
    if (s_load_records(conn, &plan) != 0)
        goto done;
    rc = status ? s_status(&plan) : s_run(conn, &cfg, &plan, dry_run);
done:
    PQfinish(conn); /* ends the session: releases the advisory lock */
    s_plan_release(&plan);
    s_config_release(&cfg);
    fflush(stdout);
    return rc;
}
