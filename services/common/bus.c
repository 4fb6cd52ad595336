/* bus — publishing into the outbox, envelopes, arenas (see bus.h). */
#include "common/bus.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static char *s_strdup_error(const char *msg)
{
    return strdup(msg ? msg : "unknown error");
}

bool bus_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* Random bytes for ids. Taken from the kernel a block at a time per thread:
 * an id per event, item, deadline and notice would otherwise cost a system
 * call each. The daemons do not fork once their threads run, so no two
 * processes share a block. */
#define RANDOM_BLOCK 512
static void s_random(uint8_t *b, size_t len)
{
    static _Thread_local uint8_t block[RANDOM_BLOCK];
    static _Thread_local size_t left;
    while (len > 0) {
        if (left == 0) {
            size_t got = 0;
            while (got < sizeof block) {
                ssize_t n = getrandom(block + got, sizeof block - got, 0);
                if (n > 0)
                    got += (size_t)n;
            }
            left = sizeof block;
        }
        size_t take = len < left ? len : left;
        uint8_t *from = block + sizeof block - left;
        memcpy(b, from, take);
        memset(from, 0, take); /* a byte given out is not kept */
        left -= take;
        b += take;
        len -= take;
    }
}

static void s_uuid_text(const uint8_t b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 0x0f];
    }
    *o = '\0';
}

void bus_uuid4(char out[37])
{
    uint8_t b[16];
    s_random(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    s_uuid_text(b, out);
}

void bus_uuid7(char out[37])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t b[16];
    s_random(b + 6, sizeof b - 6);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (8 * (5 - i)));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x70);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    s_uuid_text(b, out);
}

int bus_envelope_pack(const Liaison__V1__Envelope *env, uint8_t **out, size_t *len, char **error)
{
    *out = NULL;
    *len = 0;
    if (!env || !bus_uuid_valid(env->event_id)) {
        *error = s_strdup_error("event: event_id is not a UUID");
        return -1;
    }
    if (!env->type || !*env->type || !env->stream || !*env->stream) {
        *error = s_strdup_error("event: type and stream are required");
        return -1;
    }
    /* The position is the sequencer's to give: pack a copy with none. */
    Liaison__V1__Envelope copy = *env;
    copy.sequence = 0;
    if (copy.envelope_version == 0)
        copy.envelope_version = BUS_ENVELOPE_VERSION;
    size_t size = liaison__v1__envelope__get_packed_size(&copy);
    if (size > BUS_ENVELOPE_MAX - 16) {
        *error = s_strdup_error("event: envelope larger than 1 MiB");
        return -1;
    }
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        *error = s_strdup_error("out of memory");
        return -1;
    }
    *len = liaison__v1__envelope__pack(&copy, buf);
    *out = buf;
    return 0;
}

static const char s_insert_sql[] =
    "INSERT INTO bus_outbox (stream, event_id, type, envelope) VALUES ($1, $2::uuid, $3, $4)";

int bus_publish(PGconn *conn, const Liaison__V1__Envelope *env, char **error)
{
    uint8_t *buf;
    size_t len;
    if (bus_envelope_pack(env, &buf, &len, error) != 0)
        return -1;
    const char *values[4] = {env->stream, env->event_id, env->type, (const char *)buf};
    int lengths[4] = {0, 0, 0, (int)len};
    int formats[4] = {0, 0, 0, 1};
    PGresult *res = PQexecParams(conn, s_insert_sql, 4, NULL, values, lengths, formats, 0);
    free(buf);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        *error = s_strdup_error(msg && *msg ? msg : "outbox insert failed");
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

int bus_publish_query(pg_t *pg, const Liaison__V1__Envelope *env, pg_result_fn *fn, void *arg)
{
    uint8_t *buf;
    size_t len;
    char *error = NULL;
    if (bus_envelope_pack(env, &buf, &len, &error) != 0) {
        free(error);
        return -1;
    }
    /* pg_query sends text parameters: bytea in its hex input form. */
    char *hex = malloc(2 * len + 3);
    if (!hex) {
        free(buf);
        return -1;
    }
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\\';
    hex[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        hex[2 + 2 * i] = digits[buf[i] >> 4];
        hex[3 + 2 * i] = digits[buf[i] & 15];
    }
    hex[2 + 2 * len] = '\0';
    free(buf);
    const char *params[4] = {env->stream, env->event_id, env->type, hex};
    int rc = pg_query(pg, s_insert_sql, 4, params, fn, arg);
    free(hex);
    return rc;
}

size_t bus_sequence_suffix(uint64_t sequence, uint8_t out[11])
{
    size_t n = 0;
    out[n++] = (5u << 3) | 0u; /* field 5, wire type varint */
    do {
        uint8_t byte = sequence & 0x7f;
        sequence >>= 7;
        out[n++] = (uint8_t)(byte | (sequence ? 0x80 : 0));
    } while (sequence);
    return n;
}

/* ---- arena ------------------------------------------------------------------
 * A bump allocator in chunks: unpacking one envelope makes a handful of
 * small allocations (strings, the payload) that all die together. */
typedef struct chunk_t {
    struct chunk_t *next;
    size_t size, used;
    max_align_t data[];
} chunk_t;

struct bus_arena_t {
    ProtobufCAllocator allocator;
    chunk_t *chunks;
};

#define ARENA_CHUNK (64u << 10)

static void *s_arena_alloc(void *data, size_t size)
{
    bus_arena_t *self = data;
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    chunk_t *c = self->chunks;
    if (!c || c->size - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        chunk_t *n = malloc(sizeof *n + cap);
        if (!n)
            return NULL;
        n->size = cap;
        n->used = 0;
        n->next = self->chunks;
        self->chunks = n;
        c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static void s_arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr; /* freed all at once by bus_arena_reset */
}

bus_arena_t *bus_arena_new(void)
{
    bus_arena_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->allocator.alloc = s_arena_alloc;
    self->allocator.free = s_arena_free;
    self->allocator.allocator_data = self;
    return self;
}

void bus_arena_reset(bus_arena_t *self)
{
    /* Keep the first (most recent) chunk for reuse; free the rest. */
    chunk_t *c = self->chunks;
    if (!c)
        return;
    chunk_t *rest = c->next;
    c->next = NULL;
    c->used = 0;
    if (c->size > ARENA_CHUNK) { /* an oversized one is not worth keeping */
        free(c);
        self->chunks = NULL;
    }
    while (rest) {
        chunk_t *next = rest->next;
        free(rest);
        rest = next;
    }
}

void bus_arena_destroy(bus_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_arena_reset(*self_p);
    free((*self_p)->chunks);
    free(*self_p);
    *self_p = NULL;
}

ProtobufCAllocator *bus_arena_allocator(bus_arena_t *self)
{
    return &self->allocator;
}

Liaison__V1__Envelope *bus_envelope_unpack(bus_arena_t *arena, const uint8_t *data, size_t len,
                                           char *reason, size_t reason_size)
{
    if (len > BUS_ENVELOPE_MAX) {
        snprintf(reason, reason_size, "undecodable: envelope of %zu bytes exceeds 1 MiB", len);
        return NULL;
    }
    Liaison__V1__Envelope *env =
        liaison__v1__envelope__unpack(bus_arena_allocator(arena), len, data);
    if (!env) {
        snprintf(reason, reason_size, "undecodable: not a liaison.v1.Envelope (%zu bytes)", len);
        return NULL;
    }
    if (!bus_uuid_valid(env->event_id)) {
        snprintf(reason, reason_size, "invalid envelope: event_id is not a UUID");
        return NULL;
    }
    if (!env->type || !*env->type) {
        snprintf(reason, reason_size, "invalid envelope: no type");
        return NULL;
    }
    if (!env->stream || !*env->stream) {
        snprintf(reason, reason_size, "invalid envelope: no stream");
        return NULL;
    }
    if (env->sequence == 0) {
        snprintf(reason, reason_size, "invalid envelope: no sequence");
        return NULL;
    }
    return env;
}
