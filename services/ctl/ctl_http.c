/* ctl_http — see ctl_http.h. */
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/ctl_http.h"
#include "ctl/ctl_ini.h"

#define CTL_DEFAULT_CONFIG "var/liaisonctl.conf"

static const char *s_config_path(void)
{
    const char *p = getenv("LIAISON_CONFIG");
    return p && *p ? p : CTL_DEFAULT_CONFIG;
}

static char *s_base_url(const char *service, char *err, size_t errsize)
{
    char env[64];
    snprintf(env, sizeof env, "LIAISON_%s_URL", service);
    for (char *c = env; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    const char *e = getenv(env);
    if (e && *e)
        return strdup(e);
    char *v = NULL;
    int rc = ctl_ini_get(s_config_path(), "liaisonctl", service, &v);
    if (rc != 0)
        snprintf(err, errsize, "no URL for %s: set %s or [liaisonctl] %s in %s", service, env,
                 service, s_config_path());
    return rc == 0 ? v : NULL;
}

static char *s_token(char *err, size_t errsize)
{
    const char *e = getenv("LIAISON_TOKEN");
    if (e && *e)
        return strdup(e);
    char *path = NULL;
    if (ctl_ini_get(s_config_path(), "liaisonctl", "token_file", &path) != 0) {
        snprintf(err, errsize, "no token: set LIAISON_TOKEN or [liaisonctl] token_file in %s",
                 s_config_path());
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsize, "cannot read the token file %s", path);
        free(path);
        return NULL;
    }
    free(path);
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    return strdup(buf);
}

static size_t s_write(char *p, size_t size, size_t n, void *arg)
{
    ctl_http_resp_t *r = arg;
    char *b = realloc(r->body, r->len + size * n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, size * n);
    r->body = b;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

int ctl_http(const char *service, const char *method, const char *path, const char *content_type,
             const char *body, size_t len, const char *idem_key, ctl_http_resp_t *out)
{
    memset(out, 0, sizeof *out);
    char *base = s_base_url(service, out->error, sizeof out->error);
    char *token = base ? s_token(out->error, sizeof out->error) : NULL;
    if (!base || !token) {
        free(base);
        free(token);
        return CTL_EXIT_FAILURE;
    }
    CURL *c = curl_easy_init();
    char url[2048], auth[600], ctype[200], idem[400];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hs = curl_slist_append(NULL, auth);
    hs = curl_slist_append(hs, "Accept: application/json, application/problem+json");
    hs = curl_slist_append(hs, "Expect:");
    if (content_type) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
        hs = curl_slist_append(hs, ctype);
    }
    if (idem_key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", idem_key);
        hs = curl_slist_append(hs, idem);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        snprintf(out->error, sizeof out->error, "%.180s: %s", url, curl_easy_strerror(rc));
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    free(base);
    free(token);
    if (out->body)
        out->json = json_loads(out->body, 0, NULL);
    if (out->status >= 200 && out->status < 300)
        return CTL_EXIT_OK;
    if (out->status >= 400 && out->status < 500)
        return CTL_EXIT_REFUSED;
    return CTL_EXIT_FAILURE;
}

void ctl_http_resp_free(ctl_http_resp_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

void ctl_http_print_problem(const char *command, const ctl_http_resp_t *r)
{
    if (!r->status) {
        fprintf(stderr, "liaisonctl %s: %s\n", command, r->error);
        return;
    }
    const char *code = json_string_value(json_object_get(r->json, "code"));
    const char *field = json_string_value(json_object_get(r->json, "field"));
    const char *detail = json_string_value(json_object_get(r->json, "detail"));
    const char *zh = json_string_value(json_object_get(r->json, "detail_zh"));
    fprintf(stderr, "liaisonctl %s: %ld %s%s%s%s: %s%s%s\n", command, r->status,
            code ? code : "error", field ? " (" : "", field ? field : "", field ? ")" : "",
            detail ? detail : (r->body ? r->body : ""), zh ? " / " : "", zh ? zh : "");
    json_t *errors = json_object_get(r->json, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *col = json_string_value(json_object_get(e, "column"));
        fprintf(stderr, "  line %lld%s%s: %s\n",
                (long long)json_integer_value(json_object_get(e, "line")), col ? ", column " : "",
                col ? col : "", json_string_value(json_object_get(e, "reason")));
    }
}

char *ctl_http_escape(const char *s)
{
    char *out = malloc(strlen(s) * 3 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

int ctl_http_finish(const char *command, int rc, ctl_http_resp_t *r, bool json,
                    void (*show)(json_t *))
{
    if (rc != CTL_EXIT_OK) {
        if (json && r->body && r->json)
            printf("%s\n", r->body);
        ctl_http_print_problem(command, r);
    } else if (json) {
        printf("%s\n", r->body ? r->body : "{}");
    } else if (show) {
        show(r->json);
    }
    ctl_http_resp_free(r);
    return rc;
}

char *ctl_read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m) {
        if (f != stdin)
            fclose(f);
        return NULL;
    }
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, k, m);
    if (f != stdin)
        fclose(f);
    fclose(m);
    *len = n;
    return buf;
}
