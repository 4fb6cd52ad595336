/* clock — the one place a daemon reads the time of day.
 *
 * Real mode: the system clock. Test mode (ARCHITECTURE.md §5): real time
 * plus an offset shared by every daemon of a stack through a small file
 * (config [common] clock_file, e.g. var/testclock) holding the offset in
 * microseconds as decimal text and a newline. `liaisonctl clock advance 30d`
 * rewrites the file (write to a temporary file, fsync, rename: readers see
 * the old or the new offset, never half of one); every clock notices on its
 * next read, because each read compares the file's inode, size and mtime
 * with the last ones it parsed (one stat(2), no read, when nothing changed).
 * A missing file means offset 0.
 *
 * A production deployment never runs on a moved clock: clock_new refuses
 * test mode when the deployment mode is "production".
 *
 * Monotonic time (timeouts, intervals) is never shifted.
 *
 * Thread-safe: a worker thread may read the same clock.
 */
#ifndef LIAISON_COMMON_CLOCK_H
#define LIAISON_COMMON_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Not clock_t: <time.h> owns that name. */
typedef struct liaison_clock_t liaison_clock_t;

typedef enum {
    CLOCK_MODE_REAL = 0,
    CLOCK_MODE_TEST = 1,
} clock_mode_t;

/* mode "real" or "test"; deployment "production", "development" or "test";
 * file: the offset file (used in test mode only; may be NULL in real mode).
 * Returns NULL and sets *error (caller frees) when the test clock is asked
 * for in production, a name is unknown, or file is missing in test mode:
 *   clock: the test clock is refused in production mode (set [common] mode
 *   to development or test, or clock = real)
 */
liaison_clock_t *clock_new(const char *mode, const char *deployment, const char *file,
                           char **error);
void clock_destroy(liaison_clock_t **self_p);

bool clock_is_test(liaison_clock_t *self);

/* Wall-clock time (shifted in test mode): microseconds / seconds since the
 * Unix epoch. */
int64_t clock_now_us(liaison_clock_t *self);
int64_t clock_now_s(liaison_clock_t *self);
/* The current offset in microseconds (0 in real mode). */
int64_t clock_offset_us(liaison_clock_t *self);

/* Monotonic microseconds (never shifted, unrelated to the epoch). */
int64_t clock_mono_us(void);

/* Test mode only (-1 with errno EPERM in real mode). clock_set makes the
 * shared time read as `wall_us`; clock_advance moves it forward by delta_us
 * (>= 0; -1 with errno EINVAL otherwise); clock_reset returns it to real
 * time. The change is visible to every clock sharing the file. */
int clock_set(liaison_clock_t *self, int64_t wall_us);
int clock_advance(liaison_clock_t *self, int64_t delta_us);
int clock_reset(liaison_clock_t *self);

/* The file primitives under the functions above (for tools and tests). */
int clock_file_read(const char *path, int64_t *offset_us);
int clock_file_write(const char *path, int64_t offset_us);

#endif
