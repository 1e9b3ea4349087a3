/* pipe.c - weft_pipe and weft_conn: message pipes over a Unix stream
 * socket pair, with descriptor passing (Python's multiprocessing.Pipe).
 *
 * Framing
 *   Every message is a 4-byte little-endian header and then its payload.
 *   A header value of 0 .. WEFT_PIPE_MAX_MSG is a byte message of that
 *   length; the value FD_MSG (top bit set, length bits zero) is a
 *   descriptor message, which has no payload and carries exactly one
 *   descriptor as SCM_RIGHTS attached to its 4 header bytes. Any other
 *   value cannot come from weft and makes the end fail with -EPROTO.
 *
 * Sending
 *   One sendmsg() with the iovec {header, payload} and MSG_NOSIGNAL (a
 *   closed peer is -EPIPE, never a SIGPIPE), looping over short writes
 *   (a signal in the middle of a large message) and EINTR.
 *
 * Receiving and buffering
 *   Each receiving end keeps a private buffer (RBUF_SIZE) and reads as
 *   much as the socket holds into it, so a burst of small messages costs
 *   one system call, header and payload together. A message too large for
 *   the buffer has its payload read straight into the caller's memory. If
 *   that read is cut short (a timeout), what already arrived is put back
 *   into the buffer, grown to the message's size, so nothing is lost and
 *   the next call goes on where this one stopped; the buffer shrinks back
 *   once the message is taken. -ENOBUFS leaves the buffer untouched.
 *
 * Descriptors
 *   With SOCK_STREAM, descriptors ride on the first byte of the sendmsg()
 *   that carried them, and the kernel hands them out with whichever read
 *   first touches that byte - possibly a read that also takes earlier
 *   messages into our buffer. So every read is a recvmsg() with room for
 *   control data, and a descriptor that arrives is stashed in a FIFO with
 *   its position in the byte stream until the descriptor message it
 *   belongs to is taken; close() closes whatever is still stashed. Linux
 *   ends a stream read right after the last byte of a buffer that carried
 *   descriptors (it never glues two such buffers into one read), so a
 *   read returns at most one of our descriptors, and that descriptor's
 *   header always contains the last byte the read returned. That position
 *   is what ties a stashed descriptor to its header: a descriptor found
 *   anywhere else means the peer is not speaking weft (-EPROTO). A
 *   descriptor the kernel could not install here (we are out of
 *   descriptors: MSG_CTRUNC) is stashed as -1, and recv_fd reports
 *   -EMFILE for its message, so the stream stays in step.
 *
 * Kinds and errors
 *   recv, recv_alloc and next_len on a descriptor message, and recv_fd on
 *   a byte message, return -EPROTO and leave the message where it is (the
 *   end stays usable; receive it with the right call). A malformed stream
 *   - an impossible header, a descriptor out of place, or end of file in
 *   the middle of a message (a peer killed while writing one) - makes
 *   -EPROTO sticky: every later receive returns it. End of file at a
 *   message boundary is WEFT_ECLOSED.
 *
 *   poll returns 1 when a receive would not wait: a whole message (or a
 *   descriptor message) is buffered, end of file or a broken stream is
 *   pending, or the header of a message larger than the private buffer
 *   has arrived. That last case cannot wait for the whole message: its
 *   sender blocks until we drain the socket, so recv may still wait a
 *   little for the rest of it.
 *
 * Threads and fork
 *   Sending touches only fd and can_send, receiving only the rest, so one
 *   thread may send while another receives. A forked child gets a copy of
 *   the private buffer and stash: messages already buffered in the parent
 *   are there in the child too, so only one of them should receive.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <weft/pipe.h>

/* The private receive buffer: a default socket buffer's worth of small
 * messages per read, and the threshold for reading a payload directly. */
#define RBUF_SIZE (64 * 1024)
#define HDR_SIZE  4
#define FD_MSG    0x80000000u
/* Control room per read. One of our descriptors per read is the most the
 * kernel gives; room for a few more lets us see (and reject) a peer that
 * attaches several instead of having them dropped silently. */
#define CMSG_FDS 4

struct stashed_fd {
    int fd;       /* received descriptor, or -1 if it could not be */
    uint64_t off; /* stream position of the last byte read with it */
};

/* A receive call's wait: its deadline and what expiry returns. */
struct wait {
    weft_deadline dl;
    int expired; /* -EAGAIN for timeout 0, else -ETIMEDOUT */
};

struct weft_conn {
    int fd;
    bool can_send;
    bool can_recv;
    /* Receive side only, below. rbuf[rpos, rlen) are bytes read from the
     * socket and not yet taken; rx_total counts every byte ever read, so
     * rbuf[rlen] is at stream position rx_total. */
    unsigned char *rbuf;
    size_t rcap;
    size_t rpos;
    size_t rlen;
    uint64_t rx_total;
    bool eof;   /* the socket returned end of file */
    int broken; /* 0, or the error every receive returns from now on */
    struct stashed_fd *fds; /* FIFO: fds[fd_head, fd_head + fd_count) */
    size_t fd_head;
    size_t fd_count;
    size_t fd_cap;
};

/* ---- Creating and closing ---------------------------------------------- */

static weft_conn *conn_new(int fd, bool can_send, bool can_recv)
{
    weft_conn *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->fd = fd;
    c->can_send = can_send;
    c->can_recv = can_recv;
    if (can_recv) {
        c->rbuf = malloc(RBUF_SIZE);
        if (!c->rbuf) {
            free(c);
            return NULL;
        }
        c->rcap = RBUF_SIZE;
    }
    return c;
}

int weft_pipe(weft_conn **a, weft_conn **b, bool duplex)
{
    int sv[2];

    if (!a || !b)
        return -EINVAL;
    *a = *b = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* One-way: a only receives, b only sends (Python's order). Shutting
     * the unused directions makes a stray write on them fail in the
     * kernel too, whoever holds the descriptor. */
    if (!duplex &&
        (shutdown(sv[0], SHUT_WR) < 0 || shutdown(sv[1], SHUT_RD) < 0)) {
        int e = -errno;
        close(sv[0]);
        close(sv[1]);
        return e;
    }
    *a = conn_new(sv[0], duplex, true);
    *b = conn_new(sv[1], true, duplex);
    if (!*a || !*b) {
        /* close() on an end closes its socket too; a failed one has
         * none, so close that socket here. */
        if (*a)
            weft_conn_close(*a);
        else
            close(sv[0]);
        if (*b)
            weft_conn_close(*b);
        else
            close(sv[1]);
        *a = *b = NULL;
        return -ENOMEM;
    }
    return 0;
}

int weft_conn_fileno(const weft_conn *c)
{
    return c ? c->fd : -EBADF;
}

int weft_conn_close(weft_conn *c)
{
    size_t i;

    if (!c)
        return 0;
    if (c->fd < 0)
        return -EBADF; /* closed before */
    for (i = 0; i < c->fd_count; i++)
        if (c->fds[c->fd_head + i].fd >= 0)
            close(c->fds[c->fd_head + i].fd);
    c->fd_count = 0;
    close(c->fd);
    /* The handle stays, so that a call on a closed end is an error code
     * (-EBADF) rather than a use of freed memory. */
    c->fd = -1;
    c->can_send = false;
    c->can_recv = false;
    return 0;
}

int weft_conn_destroy(weft_conn *c)
{
    if (!c)
        return 0;
    if (c->fd >= 0)
        weft_conn_close(c);
    free(c->fds);
    free(c->rbuf);
    free(c);
    return 0;
}

/* ---- Sending ------------------------------------------------------------ */

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Write all of msg's iovec. A descriptor in msg's control data goes with
 * the first bytes written, so it is dropped for the rest of a short
 * write. */
static int send_all(weft_conn *c, struct msghdr *msg)
{
    struct pollfd p;
    ssize_t n;

    for (;;) {
        n = sendmsg(c->fd, msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* A blocking socket only says EAGAIN if somebody made the
             * shared file non-blocking (a forked copy, or a caller using
             * weft_conn_fileno): send is documented to block, so wait. */
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                p.fd = c->fd;
                p.events = POLLOUT;
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                    return -errno;
                continue;
            }
            /* ECONNRESET: the peer closed with our data unread. */
            if (errno == EPIPE || errno == ECONNRESET)
                return -EPIPE;
            return -errno;
        }
        msg->msg_control = NULL;
        msg->msg_controllen = 0;
        while (msg->msg_iovlen > 0 && (size_t)n >= msg->msg_iov->iov_len) {
            n -= (ssize_t)msg->msg_iov->iov_len;
            msg->msg_iov++;
            msg->msg_iovlen--;
        }
        if (msg->msg_iovlen == 0)
            return 0;
        msg->msg_iov->iov_base = (char *)msg->msg_iov->iov_base + n;
        msg->msg_iov->iov_len -= (size_t)n;
    }
}

int weft_conn_send(weft_conn *c, const void *msg, size_t len)
{
    unsigned char hdr[HDR_SIZE];
    struct iovec iov[2];
    struct msghdr mh;

    if (!c || !c->can_send)
        return -EBADF;
    if (!msg && len > 0)
        return -EINVAL;
    if (len > WEFT_PIPE_MAX_MSG)
        return -EMSGSIZE;
    put_le32(hdr, (uint32_t)len);
    iov[0].iov_base = hdr;
    iov[0].iov_len = HDR_SIZE;
    iov[1].iov_base = (void *)msg; /* sendmsg never writes through it */
    iov[1].iov_len = len;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = len > 0 ? 2 : 1;
    return send_all(c, &mh);
}

int weft_conn_send_bytes(weft_conn *c, const void *buf, size_t offset,
                         size_t size)
{
    if (!c || !c->can_send)
        return -EBADF;
    if (offset > SIZE_MAX - size || (!buf && (size > 0 || offset > 0)))
        return -EINVAL;
    return weft_conn_send(c, size > 0 ? (const char *)buf + offset : NULL,
                          size);
}

int weft_conn_send_fd(weft_conn *c, int fd)
{
    unsigned char hdr[HDR_SIZE];
    struct iovec iov;
    struct msghdr mh;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct cmsghdr *cm;

    if (!c || !c->can_send)
        return -EBADF;
    /* The kernel would say EBADF too, but checking first keeps the
     * answer the same whatever it does with a bad descriptor. */
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    put_le32(hdr, FD_MSG);
    iov.iov_base = hdr;
    iov.iov_len = HDR_SIZE;
    memset(&mh, 0, sizeof mh);
    memset(&u, 0, sizeof u);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return send_all(c, &mh);
}

/* ---- The descriptor stash ---------------------------------------------- */

static int stash_push(weft_conn *c, int fd, uint64_t off)
{
    struct stashed_fd *n;
    size_t cap;

    if (c->fd_head + c->fd_count == c->fd_cap) {
        if (c->fd_head > 0) {
            memmove(c->fds, c->fds + c->fd_head, c->fd_count * sizeof *c->fds);
            c->fd_head = 0;
        } else {
            cap = c->fd_cap ? 2 * c->fd_cap : 8;
            n = realloc(c->fds, cap * sizeof *n);
            if (!n)
                return -ENOMEM;
            c->fds = n;
            c->fd_cap = cap;
        }
    }
    c->fds[c->fd_head + c->fd_count].fd = fd;
    c->fds[c->fd_head + c->fd_count].off = off;
    c->fd_count++;
    return 0;
}

/* Take the descriptors a read brought; n bytes were read, ending at
 * stream position c->rx_total (already advanced). */
static void take_fds(weft_conn *c, struct msghdr *mh, size_t n)
{
    int got[CMSG_FDS];
    size_t ngot = 0, k, i;
    struct cmsghdr *cm;
    bool bad = false;

    for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (ngot < sizeof got / sizeof got[0])
                got[ngot++] = fd;
            else
                close(fd);
            bad |= ngot > 1;
        }
    }
    if (mh->msg_flags & MSG_CTRUNC) {
        /* Nothing installed: this process is out of descriptors. Keep the
         * message's place with -1. Some installed and some not: the peer
         * sent more than one, which weft never does. */
        if (ngot == 0 && n > 0)
            got[ngot++] = -1;
        else
            bad = true;
    }
    if (ngot == 0)
        return;
    if (bad || n == 0 || stash_push(c, got[0], c->rx_total - 1) < 0) {
        for (i = 0; i < ngot; i++)
            if (got[i] >= 0)
                close(got[i]);
        if (!c->broken)
            c->broken = bad || n == 0 ? -EPROTO : -ENOMEM;
    }
}

/* ---- Reading ------------------------------------------------------------ */

/* One non-blocking recvmsg of at most n bytes into p, stashing any
 * descriptor it brings. Returns the bytes read (> 0), 0 at end of file,
 * -EAGAIN when there is nothing yet, or another error. */
/* block: wait in recvmsg itself (for waits without a deadline: one system
 * call instead of a try, a poll and a read). */
static ssize_t rx_read(weft_conn *c, void *p, size_t n, bool block)
{
    union {
        char buf[CMSG_SPACE(CMSG_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {p, n};
    struct msghdr mh;
    ssize_t r;

    for (;;) {
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        /* MSG_DONTWAIT rather than O_NONBLOCK: the file status flags are
         * shared with every forked copy and with the caller's fileno. */
        r = recvmsg(c->fd, &mh, (block ? 0 : MSG_DONTWAIT) | MSG_CMSG_CLOEXEC);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK)
            return -EAGAIN;
        /* The peer closed with data of ours unread: after the data we
         * were sent, which comes first, that is end of file. */
        if (errno == ECONNRESET)
            return 0;
        return -errno;
    }
    c->rx_total += (uint64_t)r;
    if (mh.msg_controllen > 0 || (mh.msg_flags & MSG_CTRUNC))
        take_fds(c, &mh, (size_t)r);
    return r;
}

/* Make the end unusable with err (unless it already is). */
static int fail(weft_conn *c, int err)
{
    if (!c->broken)
        c->broken = err;
    return c->broken;
}

/* Wait until the socket is readable or the wait expires. */
static int wait_in(weft_conn *c, const struct wait *w)
{
    struct pollfd p;
    int ms, rc;

    for (;;) {
        ms = weft_deadline_remaining_ms(w->dl);
        if (ms == 0)
            return w->expired;
        p.fd = c->fd;
        p.events = POLLIN;
        p.revents = 0;
        rc = poll(&p, 1, ms);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

/* Read more into the buffer: returns 0 once at least one byte came or end
 * of file was seen (c->eof), else the wait's expiry or an error. Callers
 * check c->broken afterwards: the read may have brought a bad descriptor.
 * There is always room: callers only ask while the buffer cannot yet hold
 * the message they want, which fits. */
static int fill(weft_conn *c, const struct wait *w)
{
    ssize_t n;
    int rc;

    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rlen == c->rcap) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    /* Never reached (see above), but a read of 0 bytes would look like
     * end of file and end the stream quietly: fail loudly instead. */
    if (c->rlen == c->rcap)
        return fail(c, -EPROTO);
    for (;;) {
        n = rx_read(c, c->rbuf + c->rlen, c->rcap - c->rlen,
                    w->dl == WEFT_DEADLINE_NEVER);
        if (n > 0) {
            c->rlen += (size_t)n;
            return 0;
        }
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        if (n != -EAGAIN)
            return (int)n;
        rc = wait_in(c, w);
        if (rc < 0)
            return rc;
    }
}

/* The stream position of rbuf[rpos], where the next message starts. */
static uint64_t next_off(const weft_conn *c)
{
    return c->rx_total - (c->rlen - c->rpos);
}

/* Wait for the next message's header: 0 and *hdr, or an error. Leaves
 * the message where it is. */
static int peek(weft_conn *c, const struct wait *w, uint32_t *hdr)
{
    size_t avail;
    int rc;

    for (;;) {
        if (c->broken)
            return c->broken;
        avail = c->rlen - c->rpos;
        if (avail >= HDR_SIZE) {
            *hdr = get_le32(c->rbuf + c->rpos);
            if (*hdr != FD_MSG && *hdr > WEFT_PIPE_MAX_MSG)
                return fail(c, -EPROTO);
            return 0;
        }
        if (c->eof)
            return avail == 0 ? WEFT_ECLOSED : fail(c, -EPROTO);
        rc = fill(c, w);
        if (rc < 0)
            return rc;
    }
}

/* A byte message occupies [off, end) of the stream: no descriptor may
 * have come with any of it. */
static int check_no_fd(weft_conn *c, uint64_t end)
{
    if (c->fd_count > 0 && c->fds[c->fd_head].off < end)
        return fail(c, -EPROTO);
    return 0;
}

/* Drop n taken bytes from the buffer, and give back memory grown for one
 * large message once it is gone. */
static void consume(weft_conn *c, size_t n)
{
    unsigned char *small;
    size_t avail;

    c->rpos += n;
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    avail = c->rlen - c->rpos;
    if (c->rcap > RBUF_SIZE && avail <= RBUF_SIZE) {
        small = malloc(RBUF_SIZE);
        if (!small)
            return; /* keep the large one; it works as well */
        memcpy(small, c->rbuf + c->rpos, avail);
        free(c->rbuf);
        c->rbuf = small;
        c->rcap = RBUF_SIZE;
        c->rpos = 0;
        c->rlen = avail;
    }
}

/* A direct read of a large message stopped after got payload bytes: put
 * the header and those bytes back into the (empty) buffer, grown to hold
 * the whole message, so that the next call resumes. */
static int put_back(weft_conn *c, const void *buf, size_t got, size_t len)
{
    unsigned char *big;

    if (c->rcap < HDR_SIZE + len) {
        big = realloc(c->rbuf, HDR_SIZE + len);
        if (!big)
            return fail(c, -ENOMEM); /* the bytes are lost */
        c->rbuf = big;
        c->rcap = HDR_SIZE + len;
    }
    put_le32(c->rbuf, (uint32_t)len);
    memcpy(c->rbuf + HDR_SIZE, buf, got);
    c->rpos = 0;
    c->rlen = HDR_SIZE + got;
    return 0;
}

/* Take the next message, a byte message of len <= capacity of buf whose
 * header is buffered, into buf. Returns len or an error; on a timeout the
 * message stays whole. */
static int take_msg(weft_conn *c, void *buf, size_t len, const struct wait *w)
{
    size_t total = HDR_SIZE + len, got;
    uint64_t end = next_off(c) + total;
    ssize_t n;
    int rc;

    if (total <= c->rcap) {
        while (c->rlen - c->rpos < total) {
            if (c->eof)
                return fail(c, -EPROTO);
            rc = fill(c, w);
            if (rc < 0)
                return rc;
            if (c->broken)
                return c->broken;
        }
        rc = check_no_fd(c, end);
        if (rc < 0)
            return rc;
        if (len > 0)
            memcpy(buf, c->rbuf + c->rpos + HDR_SIZE, len);
        consume(c, total);
        return (int)len;
    }
    /* Larger than the buffer, so the buffer holds nothing but its start:
     * move that out and read the rest straight into place. */
    got = c->rlen - c->rpos - HDR_SIZE;
    memcpy(buf, c->rbuf + c->rpos + HDR_SIZE, got);
    c->rpos = c->rlen = 0;
    while (got < len) {
        n = rx_read(c, (char *)buf + got, len - got,
                    w->dl == WEFT_DEADLINE_NEVER);
        if (c->broken)
            return c->broken;
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0) {
            c->eof = true;
            return fail(c, -EPROTO);
        }
        rc = n == -EAGAIN ? wait_in(c, w) : (int)n;
        if (rc < 0) {
            int prc = put_back(c, buf, got, len);
            return prc < 0 ? prc : rc;
        }
    }
    rc = check_no_fd(c, end);
    if (rc < 0)
        return rc;
    consume(c, 0);
    return (int)len;
}

static int recv_check(weft_conn *c)
{
    return !c || !c->can_recv ? -EBADF : 0;
}

static struct wait wait_for(int timeout_ms)
{
    struct wait w;

    w.dl = weft_deadline_in(timeout_ms);
    w.expired = timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
    return w;
}

/* Wait for the next message's header; 0 and its length in *hdr if it is
 * a byte message, -EPROTO (nothing taken) if it is a descriptor. */
static int peek_bytes(weft_conn *c, const struct wait *w, uint32_t *hdr)
{
    int rc = peek(c, w, hdr);

    if (rc < 0)
        return rc;
    return *hdr == FD_MSG ? -EPROTO : 0;
}

int weft_conn_recv(weft_conn *c, void *buf, size_t cap, int timeout_ms)
{
    struct wait w = wait_for(timeout_ms);
    uint32_t hdr;
    int rc;

    rc = recv_check(c);
    if (rc < 0)
        return rc;
    if (!buf && cap > 0)
        return -EINVAL;
    rc = peek_bytes(c, &w, &hdr);
    if (rc < 0)
        return rc;
    if (hdr > cap)
        return -ENOBUFS;
    return take_msg(c, buf, hdr, &w);
}

/* The allocation has one byte more than the message, set to NUL, so that
 * text can be used as a C string at once; the length returned excludes
 * it. */
int weft_conn_recv_alloc(weft_conn *c, void **out, int timeout_ms)
{
    struct wait w = wait_for(timeout_ms);
    uint32_t hdr;
    char *p;
    int rc;

    rc = recv_check(c);
    if (rc < 0)
        return rc;
    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = peek_bytes(c, &w, &hdr);
    if (rc < 0)
        return rc;
    p = malloc((size_t)hdr + 1);
    if (!p)
        return -ENOMEM;
    rc = take_msg(c, p, hdr, &w);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p[hdr] = '\0';
    *out = p;
    return rc;
}

/* A descriptor message answers -EPROTO, like recv. */
int weft_conn_next_len(weft_conn *c, int timeout_ms)
{
    struct wait w = wait_for(timeout_ms);
    uint32_t hdr;
    int rc;

    rc = recv_check(c);
    if (rc < 0)
        return rc;
    rc = peek_bytes(c, &w, &hdr);
    return rc < 0 ? rc : (int)hdr;
}

/* Returns 0 and *fd. Besides recv's errors: -EMFILE when the descriptor
 * could not be installed in this process (the message is taken). */
int weft_conn_recv_fd(weft_conn *c, int *fd, int timeout_ms)
{
    struct wait w = wait_for(timeout_ms);
    struct stashed_fd *s;
    uint64_t off;
    uint32_t hdr;
    int rc;

    rc = recv_check(c);
    if (rc < 0)
        return rc;
    if (!fd)
        return -EINVAL;
    *fd = -1;
    rc = peek(c, &w, &hdr);
    if (rc < 0)
        return rc;
    if (hdr != FD_MSG)
        return -EPROTO;
    /* The header is whole, so the read that carried its descriptor has
     * happened: the descriptor must be first in the stash, at a byte of
     * this header, and the next one must not be. */
    off = next_off(c);
    s = c->fd_count > 0 ? &c->fds[c->fd_head] : NULL;
    if (!s || s->off < off || s->off >= off + HDR_SIZE ||
        (c->fd_count > 1 && s[1].off < off + HDR_SIZE))
        return fail(c, -EPROTO);
    *fd = s->fd;
    c->fd_head++;
    if (--c->fd_count == 0)
        c->fd_head = 0;
    consume(c, HDR_SIZE);
    return *fd >= 0 ? 0 : -EMFILE;
}

int weft_conn_poll(weft_conn *c, int timeout_ms)
{
    struct wait w = wait_for(timeout_ms);
    uint32_t hdr;
    size_t avail, total;
    int rc;

    rc = recv_check(c);
    if (rc < 0)
        return rc;
    for (;;) {
        rc = peek(c, &w, &hdr);
        if (rc == w.expired)
            return 0;
        if (rc < 0)
            return rc == WEFT_ECLOSED || rc == c->broken ? 1 : rc;
        avail = c->rlen - c->rpos;
        total = HDR_SIZE + (hdr == FD_MSG ? 0 : hdr);
        if (avail >= total || total > c->rcap || c->eof)
            return 1;
        rc = fill(c, &w);
        if (rc == w.expired)
            return 0;
        if (rc < 0)
            return rc;
    }
}
