/* backoff — see backoff.h. */
#include "common/backoff.h"

/* xorshift64*: jitter only, no need for quality or secrecy. */
static uint32_t s_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

uint32_t backoff_delay_ms(uint32_t min_ms, uint32_t max_ms, unsigned attempt, uint64_t *rng)
{
    uint64_t d = min_ms ? min_ms : 1;
    for (unsigned i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t half = d / 2;
    return (uint32_t)(d - half + (half ? s_random(rng) % (half + 1) : 0));
}
