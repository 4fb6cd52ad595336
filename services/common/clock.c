/* clock — see clock.h. */
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct liaison_clock_t {
    clock_mode_t mode;
    char *file;
    pthread_mutex_t lock;
    /* what the last parse saw: re-read only when one of these changes */
    bool have_stat;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int64_t offset_us;
};

static char *dup_error(const char *msg)
{
    return strdup(msg);
}

liaison_clock_t *clock_new(const char *mode, const char *deployment, const char *file, char **error)
{
    const char *msg = NULL;
    liaison_clock_t *self = NULL;
    clock_mode_t m;
    if (error)
        *error = NULL;

    if (!mode || strcmp(mode, "real") == 0) {
        m = CLOCK_MODE_REAL;
    } else if (strcmp(mode, "test") == 0) {
        m = CLOCK_MODE_TEST;
    } else {
        msg = "clock: unknown clock mode (expected real or test)";
        goto fail;
    }
    if (deployment && strcmp(deployment, "production") != 0 &&
        strcmp(deployment, "development") != 0 && strcmp(deployment, "test") != 0) {
        msg = "clock: unknown deployment mode (expected production, development or test)";
        goto fail;
    }
    if (m == CLOCK_MODE_TEST && (!deployment || strcmp(deployment, "production") == 0)) {
        msg = "clock: the test clock is refused in production mode (set [common] mode to "
              "development or test, or clock = real)";
        goto fail;
    }
    if (m == CLOCK_MODE_TEST && (!file || !*file)) {
        msg = "clock: the test clock needs a clock file ([common] clock_file)";
        goto fail;
    }

    self = calloc(1, sizeof *self);
    if (!self) {
        msg = "clock: out of memory";
        goto fail;
    }
    self->mode = m;
    pthread_mutex_init(&self->lock, NULL);
    if (file && !(self->file = strdup(file))) {
        msg = "clock: out of memory";
        goto fail;
    }
    return self;

fail:
    clock_destroy(&self);
    if (error)
        *error = dup_error(msg);
    return NULL;
}

void clock_destroy(liaison_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    liaison_clock_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    free(self->file);
    free(self);
    *self_p = NULL;
}

bool clock_is_test(liaison_clock_t *self)
{
    return self->mode == CLOCK_MODE_TEST;
}

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int clock_file_read(const char *path, int64_t *offset_us)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            *offset_us = 0;
            return 0;
        }
        return -1;
    }
    char buf[64];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || (*end && *end != '\n')) {
        errno = EINVAL;
        return -1;
    }
    *offset_us = v;
    return 0;
}

int clock_file_write(const char *path, int64_t offset_us)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char text[32];
    int len = snprintf(text, sizeof text, "%lld\n", (long long)offset_us);
    if (write(fd, text, (size_t)len) != len || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* Refresh the cached offset if the file changed. Called with the lock held.
 * On a read error the last good offset stays: a clock never jumps back to
 * real time because a file was briefly unreadable. */
static void refresh(liaison_clock_t *self)
{
    struct stat st;
    if (stat(self->file, &st) < 0) {
        if (errno == ENOENT) {
            self->have_stat = false;
            self->offset_us = 0;
        }
        return;
    }
    /* Two renames within one timestamp tick can leave inode (reused),
     * size and mtime all equal: a file changed in the last two seconds is
     * read again whatever its stat says. */
    bool recent = real_us() / 1000000 - (int64_t)st.st_mtim.tv_sec < 2;
    if (!recent && self->have_stat && st.st_dev == self->dev && st.st_ino == self->ino &&
        st.st_size == self->size && st.st_mtim.tv_sec == self->mtime.tv_sec &&
        st.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return;
    int64_t offset;
    if (clock_file_read(self->file, &offset) < 0)
        return;
    self->offset_us = offset;
    self->have_stat = true;
    self->dev = st.st_dev;
    self->ino = st.st_ino;
    self->size = st.st_size;
    self->mtime = st.st_mtim;
}

int64_t clock_offset_us(liaison_clock_t *self)
{
    if (self->mode == CLOCK_MODE_REAL)
        return 0;
    pthread_mutex_lock(&self->lock);
    refresh(self);
    int64_t offset = self->offset_us;
    pthread_mutex_unlock(&self->lock);
    return offset;
}

int64_t clock_now_us(liaison_clock_t *self)
{
    return real_us() + clock_offset_us(self);
}

int64_t clock_now_s(liaison_clock_t *self)
{
    int64_t us = clock_now_us(self);
    return us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
}

/* Read-modify-write of the offset under an exclusive lock on a side file,
 * so two `liaisonctl clock advance` never lose one of the advances. */
static int update(liaison_clock_t *self, bool absolute, int64_t value)
{
    if (self->mode != CLOCK_MODE_TEST) {
        errno = EPERM;
        return -1;
    }
    char lockpath[4096];
    int n = snprintf(lockpath, sizeof lockpath, "%s.lock", self->file);
    if (n < 0 || (size_t)n >= sizeof lockpath) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0)
        return -1;
    int rc = -1;
    if (flock(lfd, LOCK_EX) < 0)
        goto done;
    int64_t offset = 0;
    if (!absolute && clock_file_read(self->file, &offset) < 0)
        goto done;
    offset = absolute ? value : offset + value;
    rc = clock_file_write(self->file, offset);
done:;
    int e = errno;
    close(lfd);
    errno = e;
    return rc;
}

int clock_set(liaison_clock_t *self, int64_t wall_us)
{
    return update(self, true, wall_us - real_us());
}

int clock_advance(liaison_clock_t *self, int64_t delta_us)
{
    if (delta_us < 0) {
        errno = EINVAL;
        return -1;
    }
    return update(self, false, delta_us);
}

int clock_reset(liaison_clock_t *self)
{
    return update(self, true, 0);
}
