/* sock.c - stream and datagram sockets, and whole transfers, on top of the
 * coroutine I/O calls (weft/co.h): inside a coroutine they yield while
 * they would block, elsewhere they block the thread with poll(2) for the
 * timeout - so one implementation serves both.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <weft/co.h>
#include <weft/net.h>

static int close_keep_errno(int fd, int rc)
{
    close(fd);
    return rc;
}

static int set_v6only(int fd, const weft_addr *a)
{
    int one = 1;
    if (a->ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        return -errno;
    return 0;
}

/* A unix path that is in use: stale (left by a dead server) if nobody
 * answers a connect on it. */
static bool unix_path_stale(const weft_addr *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool stale = connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 &&
                 errno == ECONNREFUSED;
    close(fd);
    return stale;
}

int weft_listen(const weft_addr *a, int backlog)
{
    if (a == NULL || a->len == 0)
        return -EINVAL;
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (a->ss.ss_family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return close_keep_errno(fd, -errno);
    int rc = set_v6only(fd, a);
    if (rc < 0)
        return close_keep_errno(fd, rc);
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        rc = -errno;
        if (rc == -EADDRINUSE && a->ss.ss_family == AF_UNIX &&
            unix_path_stale(a)) {
            unlink(((const struct sockaddr_un *)&a->ss)->sun_path);
            rc = bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ? -errno
                                                                       : 0;
        }
        if (rc < 0)
            return close_keep_errno(fd, rc);
    }
    if (listen(fd, backlog > 0 ? backlog : 128) < 0)
        return close_keep_errno(fd, -errno);
    return fd;
}

int weft_accept(int lfd, weft_addr *peer, int timeout_ms)
{
    weft_addr tmp;
    weft_addr *p = peer != NULL ? peer : &tmp;
    memset(p, 0, sizeof *p);
    p->len = sizeof p->ss;
    return weft_co_accept(lfd, (struct sockaddr *)&p->ss, &p->len, timeout_ms);
}

int weft_connect(const weft_addr *a, int timeout_ms)
{
    if (a == NULL || a->len == 0)
        return -EINVAL;
    int fd =
        socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = weft_co_connect(fd, (const struct sockaddr *)&a->ss, a->len,
                             timeout_ms);
    return rc < 0 ? close_keep_errno(fd, rc) : fd;
}

int weft_read_exact(int fd, void *buf, size_t len, size_t *got, int timeout_ms)
{
    weft_deadline d = weft_deadline_in(timeout_ms);
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = weft_co_read(fd, (char *)buf + done, len - done,
                                 weft_deadline_remaining_ms(d));
        if (n == 0) {
            rc = WEFT_ECLOSED;
            break;
        }
        if (n < 0) {
            rc = (int)n;
            if (rc == -ETIMEDOUT && timeout_ms == 0)
                rc = -EAGAIN;
            break;
        }
        done += (size_t)n;
    }
    if (got != NULL)
        *got = done;
    return rc;
}

/* write() to a pipe whose reader is gone raises SIGPIPE (only sockets
 * have MSG_NOSIGNAL): block it for this thread while writing, and take
 * back the one our write raised, unless one was pending already. */
struct nosigpipe {
    sigset_t set, old;
    bool was_pending;
};

static void nosigpipe_begin(struct nosigpipe *n)
{
    sigset_t pending;
    sigemptyset(&n->set);
    sigaddset(&n->set, SIGPIPE);
    sigpending(&pending);
    n->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &n->set, &n->old);
}

static void nosigpipe_end(struct nosigpipe *n, bool raised)
{
    if (raised && !n->was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&n->set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &n->old, NULL);
}

int weft_write_all(int fd, const void *buf, size_t len, size_t *sent,
                   int timeout_ms)
{
    weft_deadline d = weft_deadline_in(timeout_ms);
    size_t done = 0;
    bool sock = true;
    struct nosigpipe np;
    int rc = 0;
    while (done < len) {
        int left = weft_deadline_remaining_ms(d);
        /* send(MSG_NOSIGNAL) on sockets: a closed peer is -EPIPE, never
         * SIGPIPE; write() on anything else. */
        ssize_t n = sock ? weft_co_send(fd, (const char *)buf + done,
                                        len - done, 0, left)
                         : weft_co_write(fd, (const char *)buf + done,
                                         len - done, left);
        if (n == -ENOTSOCK && sock) {
            sock = false;
            nosigpipe_begin(&np);
            continue;
        }
        if (n < 0) {
            rc = (int)n;
            if (rc == -ETIMEDOUT && timeout_ms == 0)
                rc = -EAGAIN;
            break;
        }
        done += (size_t)n;
    }
    if (!sock)
        nosigpipe_end(&np, rc == -EPIPE);
    if (sent != NULL)
        *sent = done;
    return rc;
}

/* ---- UDP
 * ---------------------------------------------------------------------- */

int weft_udp_socket(const weft_addr *a)
{
    if (a == NULL || a->len == 0)
        return -EINVAL;
    int fd =
        socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = set_v6only(fd, a);
    return rc < 0 ? close_keep_errno(fd, rc) : fd;
}

int weft_udp_bind(const weft_addr *a)
{
    int fd = weft_udp_socket(a);
    if (fd < 0)
        return fd;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        return close_keep_errno(fd, -errno);
    return fd;
}

ssize_t weft_udp_sendto(int fd, const void *buf, size_t len,
                        const weft_addr *to, int timeout_ms)
{
    if (to == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    return weft_co_sendto(fd, buf, len, 0, (const struct sockaddr *)&to->ss,
                          to->len, timeout_ms);
}

ssize_t weft_udp_recvfrom(int fd, void *buf, size_t cap, weft_addr *from,
                          int timeout_ms)
{
    if (buf == NULL && cap > 0)
        return -EINVAL;
    weft_addr tmp;
    weft_addr *f = from != NULL ? from : &tmp;
    memset(f, 0, sizeof *f);
    f->len = sizeof f->ss;
    /* MSG_TRUNC: the datagram's real length, to tell a cut one. */
    ssize_t n =
        weft_co_recvfrom(fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&f->ss,
                         &f->len, timeout_ms);
    return n >= 0 && (size_t)n > cap ? -EMSGSIZE : n;
}
