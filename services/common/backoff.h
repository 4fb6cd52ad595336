/* backoff — reconnect delays for the PostgreSQL and Redis clients. */
#ifndef LIAISON_COMMON_BACKOFF_H
#define LIAISON_COMMON_BACKOFF_H

#include <stdint.h>

/* Exponential back-off with "equal jitter": min_ms doubled `attempt` times,
 * capped at max_ms; half of it is fixed, half random, so a fleet of daemons
 * that lost a server together does not come back in lockstep, and no one
 * retries at once. *rng is a non-zero xorshift state of the caller's. */
uint32_t backoff_delay_ms(uint32_t min_ms, uint32_t max_ms, unsigned attempt, uint64_t *rng);

#endif
