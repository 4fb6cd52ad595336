/* test_loop — drive a daemon's event loop from a test until something
 * holds (a connection ready, a callback called). */
#ifndef LIAISON_TESTS_LIB_TEST_LOOP_H
#define LIAISON_TESTS_LIB_TEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/loop.h"

typedef bool(test_cond_fn)(void *arg);

/* Run the loop until cond(arg) holds or timeout_ms pass, and return
 * cond(arg); without cond, run it for timeout_ms and return true. */
bool test_run_until(loop_t *loop, test_cond_fn *cond, void *arg, uint64_t timeout_ms);

#endif
