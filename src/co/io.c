/* io.c - I/O that yields: descriptors waited on through the scheduler's
 * epoll set, and the read/write/accept/connect/sendfile calls built on it.
 *
 * Mode: level-triggered and one-shot (EPOLLONESHOT). A coroutine that
 * must wait arms its descriptor for the events it wants (one epoll_ctl);
 * the event disarms it, and nothing about the descriptor is kept once
 * nobody waits. Edge-triggered registration would save that epoll_ctl per
 * wait, but it keeps state per descriptor number between waits, and a
 * descriptor closed and reopened under the same number (which C programs
 * do all the time, and which the kernel does not tell epoll about when
 * the file is dup'ed) would leave a stale registration that never fires.
 * One-shot costs one system call per wait that really blocks - the calls
 * below try the operation first and wait only on EAGAIN - and is always
 * right. A reader and a writer may wait on one descriptor at once; the
 * descriptor is armed for both.
 *
 * Outside a scheduler the same calls block the thread, waiting with
 * poll(2) for the timeout, so code written for coroutines also runs in
 * plain threads.
 */
#include "co/co_int.h"
#include "co/sched_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int weft__io_init(struct weft__sched *s)
{
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    return s->epfd < 0 ? -errno : 0;
}

void weft__io_fini(struct weft__sched *s)
{
    if (s->epfd >= 0)
        close(s->epfd);
    free(s->fds);
    s->fds = NULL;
    s->nfds = 0;
}

static int fd_slot(struct weft__sched *s, int fd, struct weft__fdwait **out)
{
    if ((size_t)fd >= s->nfds) {
        size_t n = s->nfds ? s->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct weft__fdwait *f = realloc(s->fds, n * sizeof *f);
        if (f == NULL)
            return -ENOMEM;
        memset(f + s->nfds, 0, (n - s->nfds) * sizeof *f);
        s->fds = f;
        s->nfds = n;
    }
    *out = &s->fds[fd];
    return 0;
}

/* Arm fd for the events its waiters want (one-shot). */
static int arm(struct weft__sched *s, int fd, struct weft__fdwait *w)
{
    struct epoll_event ev = {.events = EPOLLONESHOT | EPOLLRDHUP,
                             .data.fd = fd};
    if (w->reader != NULL)
        ev.events |= EPOLLIN;
    if (w->writer != NULL)
        ev.events |= EPOLLOUT;
    if (w->registered && epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    /* Not registered, or the file that was is gone (closed: the kernel
     * dropped it) and the number now names another. */
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
        (errno == EEXIST && epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)) {
        w->registered = true;
        return 0;
    }
    return -errno;
}

void weft__io_poll(struct weft__sched *s, int64_t wait_ns)
{
    struct epoll_event evs[64];
    int n;
#ifdef SYS_epoll_pwait2
    /* Nanosecond timeouts: timers fire on time, not at the next ms. */
    static _Atomic int no_pwait2; /* every scheduler thread reads it */
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = wait_ns / 1000000000,
                              .tv_nsec = wait_ns % 1000000000};
        n = (int)syscall(SYS_epoll_pwait2, s->epfd, evs, 64,
                         wait_ns < 0 ? NULL : &ts, NULL, 0);
        if (n < 0 && errno == ENOSYS)
            atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
        else
            goto got;
    }
#endif
    n = epoll_wait(s->epfd, evs, 64,
                   wait_ns < 0 ? -1 : (int)((wait_ns + 999999) / 1000000));
#ifdef SYS_epoll_pwait2
got:
#endif
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        uint32_t e = evs[i].events;
        if ((size_t)fd >= s->nfds)
            continue;
        struct weft__fdwait *w = &s->fds[fd];
        bool bad = e & (EPOLLERR | EPOLLHUP);
        weft_co *r = w->reader, *wr = w->writer;
        if (r != NULL && (bad || (e & (EPOLLIN | EPOLLRDHUP)))) {
            r->io_events = WEFT_CO_READ | (bad ? WEFT_CO_WRITE : 0);
            w->reader = NULL;
            s->fd_waiters--;
            weft__co_wake(r);
        }
        if (wr != NULL && (bad || (e & EPOLLOUT))) {
            wr->io_events = WEFT_CO_WRITE | (bad ? WEFT_CO_READ : 0);
            w->writer = NULL;
            s->fd_waiters--;
            weft__co_wake(wr);
        }
        /* One-shot disarmed it; arm again for a waiter still there. */
        if ((w->reader != NULL || w->writer != NULL) && arm(s, fd, w) < 0) {
            if (w->reader != NULL) {
                w->reader->io_events = WEFT_CO_READ | WEFT_CO_WRITE;
                weft__co_wake(w->reader);
                w->reader = NULL;
                s->fd_waiters--;
            }
            if (w->writer != NULL) {
                w->writer->io_events = WEFT_CO_READ | WEFT_CO_WRITE;
                weft__co_wake(w->writer);
                w->writer = NULL;
                s->fd_waiters--;
            }
        }
    }
}

static int poll_wait(int fd, int events, int timeout_ms)
{
    struct pollfd p = {.fd = fd};
    if (events & WEFT_CO_READ)
        p.events |= POLLIN;
    if (events & WEFT_CO_WRITE)
        p.events |= POLLOUT;
    weft_deadline d = weft_deadline_in(timeout_ms);
    for (;;) {
        int rc = poll(&p, 1, weft_deadline_remaining_ms(d));
        if (rc > 0) {
            if (p.revents & POLLNVAL)
                return -EBADF;
            int got = 0;
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                got |= WEFT_CO_READ;
            if (p.revents & (POLLOUT | POLLHUP | POLLERR))
                got |= WEFT_CO_WRITE;
            return got;
        }
        if (rc == 0)
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int weft_co_wait_fd(int fd, int events, int timeout_ms)
{
    if (fd < 0)
        return -EBADF;
    if (events == 0 || (events & ~(WEFT_CO_READ | WEFT_CO_WRITE)))
        return -EINVAL;
    struct weft__sched *s = weft__sched_current();
    weft_co *self = weft__co_current();
    if (self == NULL)
        return poll_wait(fd, events, timeout_ms);
    if (self->cancelled)
        return -ECANCELED;
    if (timeout_ms == 0)
        return poll_wait(fd, events, 0);
    struct weft__fdwait *w;
    int rc = fd_slot(s, fd, &w);
    if (rc < 0)
        return rc;
    if (((events & WEFT_CO_READ) && w->reader != NULL) ||
        ((events & WEFT_CO_WRITE) && w->writer != NULL))
        return -EBUSY; /* another coroutine waits for the same */
    if (events & WEFT_CO_READ) {
        w->reader = self;
        s->fd_waiters++;
    }
    if (events & WEFT_CO_WRITE) {
        w->writer = self;
        s->fd_waiters++;
    }
    self->io_events = 0;
    rc = arm(s, fd, w);
    if (rc == 0)
        rc = weft__co_park(weft_deadline_in(timeout_ms));
    /* Still listed if the wake came from a timeout or a cancel. */
    w = &s->fds[fd];
    if (w->reader == self) {
        w->reader = NULL;
        s->fd_waiters--;
    }
    if (w->writer == self) {
        w->writer = NULL;
        s->fd_waiters--;
    }
    if (rc < 0)
        return rc == -EPERM ? -EBADF : rc;
    return self->io_events;
}

/* ---- the calls
 * ----------------------------------------------------------------- */

/* Make fd non-blocking (once: a set flag costs one fcntl to read). */
static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* Retry op while it would block, waiting for ev. */
#define YIELDING_CALL(call, fd, ev, timeout_ms)                                \
    do {                                                                       \
        weft_deadline d_ = weft_deadline_in(timeout_ms);                       \
        for (;;) {                                                             \
            ssize_t r_ = (call);                                               \
            if (r_ >= 0)                                                       \
                return r_;                                                     \
            if (errno == EINTR)                                                \
                continue;                                                      \
            if (errno != EAGAIN && errno != EWOULDBLOCK)                       \
                return -errno;                                                 \
            if (weft_deadline_expired(d_))                                     \
                return (timeout_ms) == 0 ? -EAGAIN : -ETIMEDOUT;               \
            int w_ = weft_co_wait_fd(fd, ev, weft_deadline_remaining_ms(d_));  \
            if (w_ < 0)                                                        \
                return w_;                                                     \
        }                                                                      \
    } while (0)

ssize_t weft_co_read(int fd, void *buf, size_t len, int timeout_ms)
{
    int rc = nonblock(fd);
    if (rc < 0)
        return rc;
    YIELDING_CALL(read(fd, buf, len), fd, WEFT_CO_READ, timeout_ms);
}

ssize_t weft_co_write(int fd, const void *buf, size_t len, int timeout_ms)
{
    int rc = nonblock(fd);
    if (rc < 0)
        return rc;
    YIELDING_CALL(write(fd, buf, len), fd, WEFT_CO_WRITE, timeout_ms);
}

ssize_t weft_co_recv(int fd, void *buf, size_t len, int flags, int timeout_ms)
{
    YIELDING_CALL(recv(fd, buf, len, flags | MSG_DONTWAIT), fd, WEFT_CO_READ,
                  timeout_ms);
}

ssize_t weft_co_send(int fd, const void *buf, size_t len, int flags,
                     int timeout_ms)
{
    YIELDING_CALL(send(fd, buf, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL), fd,
                  WEFT_CO_WRITE, timeout_ms);
}

ssize_t weft_co_sendto(int fd, const void *buf, size_t len, int flags,
                       const struct sockaddr *to, socklen_t tolen,
                       int timeout_ms)
{
    YIELDING_CALL(
        sendto(fd, buf, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen),
        fd, WEFT_CO_WRITE, timeout_ms);
}

ssize_t weft_co_recvfrom(int fd, void *buf, size_t len, int flags,
                         struct sockaddr *from, socklen_t *fromlen,
                         int timeout_ms)
{
    YIELDING_CALL(recvfrom(fd, buf, len, flags | MSG_DONTWAIT, from, fromlen),
                  fd, WEFT_CO_READ, timeout_ms);
}

int weft_co_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                   int timeout_ms)
{
    int rc = nonblock(fd);
    if (rc < 0)
        return rc;
    weft_deadline d = weft_deadline_in(timeout_ms);
    for (;;) {
        int c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0)
            return c;
        /* A connection reset before it was accepted: take the next. */
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if (weft_deadline_expired(d))
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        int w =
            weft_co_wait_fd(fd, WEFT_CO_READ, weft_deadline_remaining_ms(d));
        if (w < 0)
            return w;
    }
}

int weft_co_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                    int timeout_ms)
{
    int rc = nonblock(fd);
    if (rc < 0)
        return rc;
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    rc = weft_co_wait_fd(fd, WEFT_CO_WRITE, timeout_ms);
    if (rc < 0)
        return rc == -EAGAIN ? -ETIMEDOUT : rc;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

ssize_t weft_co_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
                         int timeout_ms)
{
    int rc = nonblock(out_fd);
    if (rc < 0)
        return rc;
    YIELDING_CALL(sendfile(out_fd, in_fd, offset, count), out_fd, WEFT_CO_WRITE,
                  timeout_ms);
}
