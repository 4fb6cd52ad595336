/* Registrations per second over HTTP, and their latency.
 *
 *   bench_intake --url URL --token T --court C --deputy D [--clients 8] [--seconds 10]
 *
 * --court and --token may be comma-separated lists of the same length
 * (court i with token i): client k registers in court k mod n.
 *
 * Each client is a thread with one keep-alive connection that registers
 * items back to back (each with its own Idempotency-Key), timing every
 * request. Prints one line: count, rate, p50 and p99 latency, refusals
 * (which must be 0) and the CPU the clients used. Driven by
 * tests/bench/intake.sh (make bench-intake).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    int id;
    const char *url, *token, *court, *deputy;
    double seconds;
    double *lat; /* ms */
    size_t n, cap;
    size_t refused;
} client_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t s_sink(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

static void *s_client(void *arg)
{
    client_t *c = arg;
    CURL *h = curl_easy_init();
    /* curl would set and restore a SIGPIPE handler around every request
     * (system calls that cost as much as the request's own); main ignores
     * SIGPIPE once for the whole process instead */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    char url[512], auth[256], body[1024], key[128];
    snprintf(url, sizeof url, "%s/v1/courts/%s/items", c->url, c->court);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char received[40];
    strftime(received, sizeof received, "%Y-%m-%dT%H:%M:%SZ", &tm);
    double end = s_now() + c->seconds;
    for (unsigned long i = 0; s_now() < end; i++) {
        snprintf(key, sizeof key, "Idempotency-Key: bench-%d-%lu-%ld", c->id, i, (long)t);
        snprintf(
            body, sizeof body,
            "{\"kind\":\"between-sessions\",\"channel\":\"letter\",\"source\":\"deputy-direct\","
            "\"deputies\":[{\"deputy\":\"%s\",\"lead\":true}],\"title\":\"压测登记 %d-%lu\","
            "\"content\":\"关于加强诉讼服务中心建设的建议。\",\"received_at\":\"%s\"}",
            c->deputy, c->id, i, received);
        struct curl_slist *hs = curl_slist_append(NULL, auth);
        hs = curl_slist_append(hs, "Content-Type: application/json");
        hs = curl_slist_append(hs, key);
        hs = curl_slist_append(hs, "Expect:");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_sink);
        double t0 = s_now();
        CURLcode rc = curl_easy_perform(h);
        double ms = (s_now() - t0) * 1000;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(hs);
        if (rc != CURLE_OK || status != 201) {
            c->refused++;
            continue;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4096;
            c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
        }
        c->lat[c->n++] = ms;
    }
    curl_easy_cleanup(h);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 't'},
                                         {"court", required_argument, NULL, 'c'},
                                         {"deputy", required_argument, NULL, 'd'},
                                         {"clients", required_argument, NULL, 'n'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *token = NULL, *court = NULL, *deputy = NULL;
    int clients = 8;
    double seconds = 10;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'c':
            court = optarg;
            break;
        case 'd':
            deputy = optarg;
            break;
        case 'n':
            clients = atoi(optarg);
            break;
        case 's':
            seconds = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    /* court and token lists: "a,b,c" */
    char *courts_s = court ? strdup(court) : NULL, *tokens_s = token ? strdup(token) : NULL;
    const char *courts[64], *tokens[64];
    int n_courts = 0, n_tokens = 0;
    for (char *save = NULL, *t = courts_s ? strtok_r(courts_s, ",", &save) : NULL;
         t && n_courts < 64; t = strtok_r(NULL, ",", &save))
        courts[n_courts++] = t;
    for (char *save = NULL, *t = tokens_s ? strtok_r(tokens_s, ",", &save) : NULL;
         t && n_tokens < 64; t = strtok_r(NULL, ",", &save))
        tokens[n_tokens++] = t;
    if (!url || !n_tokens || n_tokens != n_courts || !deputy || clients < 1 || clients > 256) {
        fprintf(stderr, "usage: bench_intake --url URL --token T[,T2...] --court C[,C2...] "
                        "--deputy D [--clients N] [--seconds S]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    client_t *cl = calloc((size_t)clients, sizeof *cl);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    signal(SIGPIPE, SIG_IGN);
    double t0 = s_now();
    for (int i = 0; i < clients; i++) {
        cl[i] = (client_t){.id = i,
                           .url = url,
                           .token = tokens[i % n_tokens],
                           .court = courts[i % n_courts],
                           .deputy = deputy,
                           .seconds = seconds};
        pthread_create(&th[i], NULL, s_client, &cl[i]);
    }
    size_t total = 0, refused = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += cl[i].n;
        refused += cl[i].refused;
    }
    double elapsed = s_now() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, cl[i].lat, cl[i].n * sizeof *all);
        k += cl[i].n;
        free(cl[i].lat);
    }
    qsort(all, total, sizeof *all, s_cmp);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)total * 0.99)] : 0;
    /* the clients' own CPU, for the report's breakdown (tests/bench/intake.sh) */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf(
        "registrations=%zu seconds=%.2f rate=%.1f p50_ms=%.2f p99_ms=%.2f refused=%zu clients=%d "
        "courts=%d cpu_s=%.3f\n",
        total, elapsed, (double)total / elapsed, p50, p99, refused, clients, n_courts, cpu_s);
    free(all);
    free(cl);
    free(th);
    free(courts_s);
    free(tokens_s);
    curl_global_cleanup();
    return refused ? 1 : 0;
}
