/* ctl_ini — read one value from a small INI file (liaisonctl's own files:
 * var/liaisonctl.conf, var/admin.conf). `key = value` lines under
 * `[section]`; `#` and `;` start comment lines. */
#ifndef LIAISON_CTL_INI_H
#define LIAISON_CTL_INI_H

/* 0 and *value (the caller's to free) when found; 1 when the file has no
 * such key; -1 when the file cannot be read (errno set). */
int ctl_ini_get(const char *path, const char *section, const char *key, char **value);

/* The admin configuration liaisonctl uses for database-level commands:
 * $LIAISON_ADMIN_CONFIG, else var/admin.conf. Borrowed. */
const char *ctl_admin_config_path(void);

/* The operator's database DSN: $LIAISON_PG_DSN, else pg_dsn of the admin
 * configuration. NULL when neither is there. The caller frees. */
char *ctl_admin_dsn(void);

#endif
