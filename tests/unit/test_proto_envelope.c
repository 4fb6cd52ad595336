/* The envelope contract (ARCHITECTURE.md §2, proto/liaison/v1/envelope.proto):
 * round trips, hostile bytes, size caps, and events of unknown types that a
 * consumer parks untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "liaison/v1/deadlines.pb-c.h"
#include "liaison/v1/envelope.pb-c.h"
#include "liaison/v1/items.pb-c.h"
#include "liaison/v1/workflow.pb-c.h"

/* What a consumer does before unpack (STYLE.md 5): refuse oversized input
 * outright, then unpack into a fixed arena so that a message claiming huge
 * repeated fields cannot allocate without bound. */
#define ENVELOPE_MAX_BYTES (1u << 20)

typedef struct {
    uint8_t *base;
    size_t size;
    size_t used;
} arena_t;

static void *s_arena_alloc(void *data, size_t size)
{
    arena_t *a = data;
    size_t at = (a->used + 15u) & ~(size_t)15u;
    if (at > a->size || size > a->size - at)
        return NULL;
    a->used = at + size;
    return a->base + at;
}

static void s_arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr; /* released all at once by resetting the arena */
}

static Liaison__V1__Envelope *s_decode(arena_t *arena, const uint8_t *bytes, size_t len)
{
    if (len > ENVELOPE_MAX_BYTES)
        return NULL;
    arena->used = 0;
    ProtobufCAllocator alloc = {s_arena_alloc, s_arena_free, arena};
    return liaison__v1__envelope__unpack(&alloc, len, bytes);
}

/* A consumer's table of the payload types it knows. */
static const ProtobufCMessageDescriptor *const s_known[] = {
    &liaison__v1__item_registered__descriptor,
    &liaison__v1__item_approved__descriptor,
    &liaison__v1__deadline_created__descriptor,
};

static const ProtobufCMessageDescriptor *s_lookup(const char *type)
{
    for (size_t i = 0; i < sizeof s_known / sizeof s_known[0]; i++)
        if (strcmp(s_known[i]->name, type) == 0)
            return s_known[i];
    return NULL;
}

static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(m, buf), *len);
    return buf;
}

/* An envelope around an ItemRegistered with Chinese text, deputies and a
 * session; returns the packed envelope. */
static uint8_t *s_sample(size_t *len, const char *type, const uint8_t *payload, size_t payload_len)
{
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.envelope_version = 1;
    env.event_id = "0b9d7c1e-3f6a-4c2b-9e51-7a0d2c4f8e13";
    env.type = (char *)type;
    env.stream = "intake";
    env.sequence = 4242;
    env.court_id = "gz-liwan";
    env.item_id = "5f1c2a7e-8b3d-4e6f-a0c9-1d2e3f4a5b6c";
    env.occurred_at_us = INT64_C(1767225600123456);
    env.causation_id = "";
    env.correlation_id = "0b9d7c1e-3f6a-4c2b-9e51-7a0d2c4f8e13";
    env.producer = "liaison-intake";
    env.producer_version = "0.1.0";
    env.schema_version = 1;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = payload_len;
    return s_pack(&env.base, len);
}

static uint8_t *s_item_registered(size_t *len)
{
    Liaison__V1__DeputyRef d1 = LIAISON__V1__DEPUTY_REF__INIT;
    d1.deputy_id = "d-1";
    d1.name = "陈代表";
    d1.lead = 1;
    d1.body = LIAISON__V1__DEPUTY_BODY__DEPUTY_BODY_NPC;
    d1.level = LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_DISTRICT;
    Liaison__V1__DeputyRef d2 = LIAISON__V1__DEPUTY_REF__INIT;
    d2.deputy_id = "d-2";
    d2.name = "林代表";
    Liaison__V1__DeputyRef *deps[] = {&d1, &d2};

    Liaison__V1__LocalDate closing = LIAISON__V1__LOCAL_DATE__INIT;
    closing.year = 2026;
    closing.month = 1;
    closing.day = 20;
    Liaison__V1__SessionRef session = LIAISON__V1__SESSION_REF__INIT;
    session.congress = "荔湾区第十七届人民代表大会";
    session.term_number = 17;
    session.meeting_number = 6;
    session.closing_date = &closing;

    Liaison__V1__ItemRegistered ev = LIAISON__V1__ITEM_REGISTERED__INIT;
    ev.item_id = "5f1c2a7e-8b3d-4e6f-a0c9-1d2e3f4a5b6c";
    ev.registration_number = "荔法联〔2026〕12号";
    ev.registration_year = 2026;
    ev.registration_serial = 12;
    ev.kind = LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_SUGGESTION;
    ev.channel = LIAISON__V1__CHANNEL__CHANNEL_SESSION_DELIVERY;
    ev.source = LIAISON__V1__SOURCE__SOURCE_CONGRESS;
    ev.n_deputies = 2;
    ev.deputies = deps;
    ev.session = &session;
    ev.court_role = LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD;
    ev.title = "关于加强诉源治理的建议";
    ev.content = "建议法院……（全文不截断）";
    return s_pack(&ev.base, len);
}

static void test_round_trip_with_payload(void **state)
{
    (void)state;
    size_t plen, elen;
    uint8_t *payload = s_item_registered(&plen);
    uint8_t *bytes = s_sample(&elen, liaison__v1__item_registered__descriptor.name, payload, plen);

    Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, elen, bytes);
    assert_non_null(env);
    assert_int_equal(env->envelope_version, 1);
    assert_string_equal(env->event_id, "0b9d7c1e-3f6a-4c2b-9e51-7a0d2c4f8e13");
    assert_string_equal(env->type, "liaison.v1.ItemRegistered");
    assert_string_equal(env->stream, "intake");
    assert_int_equal(env->sequence, 4242);
    assert_string_equal(env->court_id, "gz-liwan");
    assert_string_equal(env->item_id, "5f1c2a7e-8b3d-4e6f-a0c9-1d2e3f4a5b6c");
    assert_true(env->occurred_at_us == INT64_C(1767225600123456));
    assert_string_equal(env->causation_id, "");
    assert_string_equal(env->correlation_id, env->event_id);
    assert_string_equal(env->producer, "liaison-intake");
    assert_string_equal(env->producer_version, "0.1.0");
    assert_int_equal(env->schema_version, 1);
    assert_int_equal(env->payload.len, plen);
    assert_memory_equal(env->payload.data, payload, plen);

    /* The consumer finds the payload's descriptor by the type's name. */
    const ProtobufCMessageDescriptor *d = s_lookup(env->type);
    assert_ptr_equal(d, &liaison__v1__item_registered__descriptor);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, env->payload.len, env->payload.data);
    assert_non_null(m);
    Liaison__V1__ItemRegistered *ev = (Liaison__V1__ItemRegistered *)m;
    assert_string_equal(ev->registration_number, "荔法联〔2026〕12号");
    assert_int_equal(ev->kind, LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_SUGGESTION);
    assert_int_equal(ev->n_deputies, 2);
    assert_true(ev->deputies[0]->lead);
    assert_false(ev->deputies[1]->lead);
    assert_string_equal(ev->deputies[1]->name, "林代表");
    assert_non_null(ev->session);
    assert_int_equal(ev->session->closing_date->day, 20);
    assert_null(ev->attachments);
    assert_string_equal(ev->content, "建议法院……（全文不截断）");
    protobuf_c_message_free_unpacked(m, NULL);

    /* Packing again gives the same bytes. */
    size_t again_len;
    uint8_t *again = s_pack(&env->base, &again_len);
    assert_int_equal(again_len, elen);
    assert_memory_equal(again, bytes, elen);

    free(again);
    liaison__v1__envelope__free_unpacked(env, NULL);
    free(bytes);
    free(payload);
}

static void test_arena_unpack_and_reset(void **state)
{
    (void)state;
    size_t plen, elen;
    uint8_t *payload = s_item_registered(&plen);
    uint8_t *bytes = s_sample(&elen, "liaison.v1.ItemRegistered", payload, plen);
    uint8_t space[8192];
    arena_t arena = {space, sizeof space, 0};

    for (int i = 0; i < 3; i++) { /* reset and reuse, never free_unpacked */
        Liaison__V1__Envelope *env = s_decode(&arena, bytes, elen);
        assert_non_null(env);
        assert_int_equal(env->sequence, 4242);
        assert_true(arena.used > 0 && arena.used <= arena.size);
    }
    /* An arena too small for the message: unpack fails cleanly. */
    arena_t tiny = {space, 64, 0};
    assert_null(s_decode(&tiny, bytes, elen));
    free(bytes);
    free(payload);
}

static void test_size_cap_before_unpack(void **state)
{
    (void)state;
    size_t len = ENVELOPE_MAX_BYTES + 1;
    uint8_t *big = calloc(1, len);
    assert_non_null(big);
    uint8_t space[256];
    arena_t arena = {space, sizeof space, 0};
    assert_null(s_decode(&arena, big, len));
    assert_int_equal(arena.used, 0); /* refused before any allocation */
    free(big);
}

static void test_truncated_bytes(void **state)
{
    (void)state;
    size_t plen, elen;
    uint8_t *payload = s_item_registered(&plen);
    uint8_t *bytes = s_sample(&elen, "liaison.v1.ItemRegistered", payload, plen);

    /* Every prefix: unpack either fails or (cut exactly between two fields)
     * yields a message; it never crashes or reads past the end. The copy
     * into an exact-size buffer lets the sanitizers and valgrind see any
     * over-read. */
    int rejected = 0;
    for (size_t cut = 0; cut < elen; cut++) {
        uint8_t *prefix = malloc(cut ? cut : 1);
        assert_non_null(prefix);
        memcpy(prefix, bytes, cut);
        Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, cut, prefix);
        if (env == NULL)
            rejected++;
        else
            liaison__v1__envelope__free_unpacked(env, NULL);
        free(prefix);
    }
    assert_true(rejected > 0);
    /* The payload is the last field: losing its last byte must be refused. */
    assert_null(liaison__v1__envelope__unpack(NULL, elen - 1, bytes));
    free(bytes);
    free(payload);
}

static void test_malformed_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        /* field 2 (event_id, string) claims 100 bytes, has 2 */
        {"length beyond the buffer", {0x12, 0x64, 'a', 'b'}, 4},
        /* field 14 (payload) claims 2^31 bytes */
        {"huge length", {0x72, 0x80, 0x80, 0x80, 0x80, 0x08}, 6},
        /* a varint that never ends */
        {"unterminated varint",
         {0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
         12},
        /* field 0 does not exist */
        {"field number zero", {0x00, 0x01}, 2},
        /* wire type 7 does not exist */
        {"bad wire type", {0x0f, 0x01}, 2},
        /* field 2 (string) sent as a varint */
        {"wrong wire type for a known field", {0x10, 0x01}, 2},
        /* a tag cut in the middle */
        {"truncated tag", {0x80}, 1},
        /* an end-group with no start */
        {"stray end group", {0x0c}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *copy = malloc(cases[i].len);
        assert_non_null(copy);
        memcpy(copy, cases[i].bytes, cases[i].len);
        Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, cases[i].len, copy);
        if (env != NULL)
            fail_msg("accepted malformed input: %s", cases[i].what);
        free(copy);
    }
}

/* Random mutations of a valid envelope: no crash, no leak (run under
 * valgrind and the sanitizers by make valgrind / SAN=...). */
static void test_mutated_bytes_do_not_crash(void **state)
{
    (void)state;
    size_t plen, elen;
    uint8_t *payload = s_item_registered(&plen);
    uint8_t *bytes = s_sample(&elen, "liaison.v1.ItemRegistered", payload, plen);
    uint8_t *buf = malloc(elen);
    assert_non_null(buf);
    uint32_t seed = 20180103u; /* 荔法办〔2018〕3号 */
    int accepted = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(buf, bytes, elen);
        int flips = 1 + (int)(seed % 4u);
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % elen] ^= (uint8_t)(1u << ((seed >> 4) % 8u));
        }
        seed = seed * 1103515245u + 12345u;
        size_t len = elen - (seed >> 8) % 8u;
        Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, len, buf);
        if (env) {
            accepted++;
            /* whatever unpacks, packs */
            size_t n = liaison__v1__envelope__get_packed_size(env);
            uint8_t *out = malloc(n ? n : 1);
            assert_non_null(out);
            assert_int_equal(liaison__v1__envelope__pack(env, out), n);
            free(out);
            liaison__v1__envelope__free_unpacked(env, NULL);
        }
    }
    assert_true(accepted < 3000);
    free(buf);
    free(bytes);
    free(payload);
}

static void test_unknown_payload_type_is_parked_intact(void **state)
{
    (void)state;
    /* A newer producer's event this consumer was never built with. */
    static const uint8_t future[] = {0x0a, 0x03, 'n', 'e', 'w', 0x10, 0x2a, 0xfa, 0x3e, 0x01, 0x07};
    size_t elen;
    uint8_t *bytes = s_sample(&elen, "liaison.v1.SomethingFromTheFuture", future, sizeof future);

    Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, elen, bytes);
    assert_non_null(env);
    /* The header is still readable: the consumer can park it by position. */
    assert_string_equal(env->stream, "intake");
    assert_int_equal(env->sequence, 4242);
    assert_string_equal(env->court_id, "gz-liwan");
    assert_null(s_lookup(env->type));
    /* The payload is carried byte for byte, and so is the envelope. */
    assert_int_equal(env->payload.len, sizeof future);
    assert_memory_equal(env->payload.data, future, sizeof future);
    size_t parked_len;
    uint8_t *parked = s_pack(&env->base, &parked_len);
    assert_int_equal(parked_len, elen);
    assert_memory_equal(parked, bytes, elen);
    free(parked);
    liaison__v1__envelope__free_unpacked(env, NULL);
    free(bytes);
}

static void test_unknown_envelope_field_survives(void **state)
{
    (void)state;
    /* A later envelope version adds field 99; an older consumer keeps it
     * when it parks or relays the envelope. */
    size_t elen;
    uint8_t *bytes = s_sample(&elen, "liaison.v1.ItemApproved", (const uint8_t *)"", 0);
    static const uint8_t extra[] = {0x9a, 0x06, 0x02, 'h', 'i'}; /* field 99, "hi" */
    uint8_t *with = malloc(elen + sizeof extra);
    assert_non_null(with);
    memcpy(with, bytes, elen);
    memcpy(with + elen, extra, sizeof extra);

    Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, elen + sizeof extra, with);
    assert_non_null(env);
    assert_int_equal(env->base.n_unknown_fields, 1);
    assert_int_equal(env->base.unknown_fields[0].tag, 99);
    size_t out_len;
    uint8_t *out = s_pack(&env->base, &out_len);
    assert_int_equal(out_len, elen + sizeof extra);
    assert_memory_equal(out, with, out_len);
    free(out);
    liaison__v1__envelope__free_unpacked(env, NULL);
    free(with);
    free(bytes);
}

static void test_empty_envelope_is_all_defaults(void **state)
{
    (void)state;
    /* Zero bytes decode to an envelope of defaults: the schema cannot
     * refuse it, so consumers validate (event_id, type, sequence). */
    static const uint8_t none[1] = {0};
    Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, 0, none);
    assert_non_null(env);
    assert_string_equal(env->type, "");
    assert_int_equal(env->sequence, 0);
    assert_int_equal(env->payload.len, 0);
    liaison__v1__envelope__free_unpacked(env, NULL);
}

static void test_type_names_are_full_message_names(void **state)
{
    (void)state;
    assert_string_equal(liaison__v1__item_registered__descriptor.name, "liaison.v1.ItemRegistered");
    assert_string_equal(liaison__v1__deadline_created__descriptor.name,
                        "liaison.v1.DeadlineCreated");
    assert_string_equal(liaison__v1__envelope__descriptor.name, "liaison.v1.Envelope");
    assert_ptr_equal(s_lookup("liaison.v1.ItemApproved"), &liaison__v1__item_approved__descriptor);
    assert_null(s_lookup("ItemApproved"));
    assert_null(s_lookup(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_payload),
        cmocka_unit_test(test_arena_unpack_and_reset),
        cmocka_unit_test(test_size_cap_before_unpack),
        cmocka_unit_test(test_truncated_bytes),
        cmocka_unit_test(test_malformed_bytes),
        cmocka_unit_test(test_mutated_bytes_do_not_crash),
        cmocka_unit_test(test_unknown_payload_type_is_parked_intact),
        cmocka_unit_test(test_unknown_envelope_field_survives),
        cmocka_unit_test(test_empty_envelope_is_all_defaults),
        cmocka_unit_test(test_type_names_are_full_message_names),
    };
    return cmocka_run_group_tests_name("proto_envelope", tests, NULL, NULL);
}
