/* ctl_ini — see ctl_ini.h. */
#include "ctl/ctl_ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int ctl_ini_get(const char *path, const char *section, const char *key, char **value)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    bool in_section = false;
    int rc = 1;
    while (rc == 1 && getline(&line, &cap, f) != -1) {
        char *s = s_trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) {
                *end = '\0';
                in_section = strcmp(s_trim(s + 1), section) == 0;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_section || !eq)
            continue;
        *eq = '\0';
        if (strcmp(s_trim(s), key) == 0) {
            *value = strdup(s_trim(eq + 1));
            rc = *value ? 0 : -1;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

const char *ctl_admin_config_path(void)
{
    const char *path = getenv("LIAISON_ADMIN_CONFIG");
    return path && *path ? path : "var/admin.conf";
}

char *ctl_admin_dsn(void)
{
    const char *env = getenv("LIAISON_PG_DSN");
    if (env && *env)
        return strdup(env);
    char *dsn = NULL;
    if (ctl_ini_get(ctl_admin_config_path(), "migrate", "pg_dsn", &dsn) == 0)
        return dsn;
    return NULL;
}
