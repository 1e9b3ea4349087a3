/* tls.c - TLS for libweft (weft/tls.h): contexts, the handshake, and the
 * pump thread between the encrypted socket and the protocol's socket pair
 * (see weft/tls.h for why a pump; there is no kTLS here).
 *
 * The pump is one thread per connection with one loop over two
 * non-blocking descriptors: it never blocks on one direction while the
 * other has bytes to move, so neither side can deadlock the other (a
 * client still uploading while weftd already answers, say). Each
 * direction holds at most one buffer; nothing more is read from a side
 * until its buffer went out, so memory stays at two buffers whatever
 * the peers do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <weft/co.h>
#include <weft/tls.h>

#define PUMP_BUF   (16 * 1024)   /* one TLS record's payload at most */
#define PUMP_STACK (256 * 1024)  /* OpenSSL needs a few KiB; ample */
#define PAIR_BUF   (1024 * 1024) /* the socket pair's buffers */
#define LINGER_MS  1000          /* at most, after close_notify (linger) */

struct weft_tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct weft_tls_conn {
    SSL_CTX *ctx; /* a reference of our own (SSL_CTX_up_ref) */
    SSL *ssl;     /* NULL until the handshake is done */
    int fd;       /* the TLS socket (the caller's) */
    int local;    /* the protocol's end of the pair */
    int far;      /* the pump's end */
    int io_ms;    /* bound on a wait while bytes are pending; -1 none */
    pthread_t thread;
    char err[WEFT_TLS_ERR_MAX];   /* why the TLS side failed; "" if not */
    unsigned char up[PUMP_BUF];   /* protocol -> peer */
    unsigned char down[PUMP_BUF]; /* peer -> protocol */
};

/* Copy a reason into the caller's buffer (which may be NULL). */
static void set_err(char *err, size_t n, const char *s)
{
    if (err != NULL && n > 0)
        snprintf(err, n, "%s", s);
}

/* Why an OpenSSL call failed, as one line into err; returns the code it
 * stands for (-EACCES for a certificate that failed verification, -EPROTO
 * for other TLS failures, the socket's errno, -ECONNRESET when the peer
 * closed). */
static int ssl_reason(char *err, size_t n, const char *what, SSL *ssl, int ret,
                      int saved_errno)
{
    unsigned long e = ERR_peek_last_error();
    int code = ssl != NULL ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;
    long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    int rc = -EPROTO;

    if (v != X509_V_OK) {
        snprintf(err, n, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(v));
        rc = -EACCES;
    } else if (e != 0) {
        snprintf(err, n, "%s: %s", what, ERR_reason_error_string(e));
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
        /* OpenSSL 3 reports a hang-up without close_notify as an error. */
        if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            rc = -ECONNRESET;
#endif
    } else if (code == SSL_ERROR_SYSCALL && saved_errno != 0) {
        snprintf(err, n, "%s: %s", what, strerror(saved_errno));
        /* A write after the peer's reset fails with EPIPE: the same
         * hang-up for the caller. */
        rc = saved_errno == EPIPE ? -ECONNRESET : -saved_errno;
    } else if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN) {
        snprintf(err, n, "%s: the connection was closed", what);
        rc = -ECONNRESET;
    } else {
        snprintf(err, n, "%s: TLS error %d", what, code);
    }
    ERR_clear_error();
    return rc;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* A new SSL_CTX with what both sides share: TLS 1.2 at least, and writes
 * the pump may retry with the rest of its buffer. */
static int ctx_new(weft_tls_ctx **out, const SSL_METHOD *m, char *err,
                   size_t errlen)
{
    char why[WEFT_TLS_ERR_MAX];
    weft_tls_ctx *c = malloc(sizeof *c);

    if (c == NULL)
        return -ENOMEM;
    c->ssl_ctx = SSL_CTX_new(m);
    if (c->ssl_ctx == NULL) {
        ssl_reason(why, sizeof why, "TLS", NULL, 0, 0);
        set_err(err, errlen, why);
        free(c);
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    *out = c;
    return 0;
}

int weft_tls_server_ctx(weft_tls_ctx **out, const char *cert_file,
                        const char *key_file, char *err, size_t errlen)
{
    char why[WEFT_TLS_ERR_MAX];
    weft_tls_ctx *c;
    int rc;

    if (cert_file == NULL)
        return -EINVAL;
    rc = ctx_new(&c, TLS_server_method(), err, errlen);
    if (rc < 0)
        return rc;
    if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, cert_file) != 1) {
        ssl_reason(why, sizeof why, cert_file, NULL, 0, 0);
        goto fail;
    }
    const char *key = key_file != NULL ? key_file : cert_file;
    if (SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(why, sizeof why, key, NULL, 0, 0);
        goto fail;
    }
    if (SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
        snprintf(why, sizeof why,
                 "%s: the key does not match the certificate %s", key,
                 cert_file);
        ERR_clear_error();
        goto fail;
    }
    *out = c;
    return 0;
fail:
    set_err(err, errlen, why);
    weft_tls_ctx_destroy(c);
    return -EINVAL;
}

int weft_tls_client_ctx(weft_tls_ctx **out, const char *ca_file, char *err,
                        size_t errlen)
{
    char why[WEFT_TLS_ERR_MAX];
    weft_tls_ctx *c;
    int ok, rc = ctx_new(&c, TLS_client_method(), err, errlen);

    if (rc < 0)
        return rc;
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    ok = ca_file != NULL
             ? SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL)
             : SSL_CTX_set_default_verify_paths(c->ssl_ctx);
    if (ok != 1) {
        ssl_reason(why, sizeof why, ca_file != NULL ? ca_file : "trusted CAs",
                   NULL, 0, 0);
        set_err(err, errlen, why);
        weft_tls_ctx_destroy(c);
        return -EINVAL;
    }
    *out = c;
    return 0;
}

void weft_tls_ctx_destroy(weft_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* Wait until fd is ready for events or the deadline: 1, 0 (timed out)
 * or -errno. */
static int wait_fd(int fd, short events, weft_deadline d)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, weft_deadline_remaining_ms(d));
        if (rc >= 0)
            return rc;
        if (errno != EINTR)
            return -errno;
    }
}

/* Client side: what to check the server's certificate against. An
 * address is checked against the certificate's IP entries (and sent as
 * no SNI, which is for names only); a name against its DNS names. */
static int expect_host(SSL *ssl, const char *host)
{
    unsigned char ip[16];

    if (host[0] == '\0')
        return -1;
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
                   ? 0
                   : -1;
    if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
        SSL_set1_host(ssl, host) != 1)
        return -1;
    return 0;
}

/* OpenSSL writes the socket with write(), and a write after the peer's
 * reset raises SIGPIPE. The pump thread blocks every signal (a signal its
 * own write raised stays pending there, and goes with the thread), but
 * the client's handshake runs in the caller's thread: there SIGPIPE is
 * held off while it runs, and one its writes raised is taken back -
 * unless one was pending already (as weft_write_all does for pipes). */
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

static void nosigpipe_end(struct nosigpipe *n)
{
    sigset_t pending;
    struct timespec zero = {0, 0};

    sigpending(&pending);
    if (!n->was_pending && sigismember(&pending, SIGPIPE))
        while (sigtimedwait(&n->set, NULL, &zero) < 0 && errno == EINTR)
            continue;
    pthread_sigmask(SIG_SETMASK, &n->old, NULL);
}

/* The handshake on connected socket fd (made non-blocking), within
 * timeout_ms (-1: none). 0 and *out, or a negative errno value after
 * writing why into err. */
static int handshake(SSL_CTX *ctx, int fd, bool server, const char *host,
                     int timeout_ms, SSL **out, char *err, size_t errlen)
{
    weft_deadline d = weft_deadline_in(timeout_ms);
    SSL *ssl;
    int rc;

    ERR_clear_error();
    ssl = SSL_new(ctx);
    if (ssl == NULL) {
        ssl_reason(err, errlen, "TLS", NULL, 0, 0);
        return -ENOMEM;
    }
    rc = set_nonblock(fd);
    if (rc < 0 || SSL_set_fd(ssl, fd) != 1) {
        snprintf(err, errlen, "TLS: %s", strerror(rc < 0 ? -rc : EBADF));
        ERR_clear_error();
        SSL_free(ssl);
        return rc < 0 ? rc : -EBADF;
    }
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (host != NULL && expect_host(ssl, host) < 0) {
            snprintf(err, errlen, "TLS: cannot check the name %s", host);
            ERR_clear_error();
            SSL_free(ssl);
            return -EINVAL;
        }
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(ssl);
        if (r == 1)
            break;
        int code = SSL_get_error(ssl, r);
        short ev = code == SSL_ERROR_WANT_READ    ? POLLIN
                   : code == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                  : 0;
        if (ev == 0) {
            rc = ssl_reason(err, errlen, "TLS handshake", ssl, r, errno);
            SSL_free(ssl);
            return rc;
        }
        rc = wait_fd(fd, ev, d);
        if (rc <= 0) {
            snprintf(err, errlen, "TLS handshake: %s",
                     rc == 0 ? "timed out" : strerror(-rc));
            SSL_free(ssl);
            return rc == 0 ? -ETIMEDOUT : rc;
        }
    }
    *out = ssl;
    return 0;
}

/* What an SSL_read or SSL_write that did not finish waits for on the
 * socket: POLLIN, POLLOUT, or 0 for a real failure. */
static short ssl_wants(SSL *ssl, int ret)
{
    int code = SSL_get_error(ssl, ret);
    return code == SSL_ERROR_WANT_READ    ? POLLIN
           : code == SSL_ERROR_WANT_WRITE ? POLLOUT
                                          : 0;
}

/* The end of a connection that went well. Closing a TCP socket with
 * unread bytes in it makes the kernel send a reset, and a reset destroys
 * what the peer had not read yet - the end of what we sent. And the peer
 * may well have sent something we did not read: TLS 1.3 session tickets
 * that came after our last read, or whatever it said before it saw our
 * close_notify. So: close_notify, then a FIN behind it, then read and
 * drop what comes until the peer closes too - for at most LINGER_MS (or
 * io_ms, if shorter), since a peer that keeps its end open must not hold
 * us. */
static void linger(weft_tls_conn *p)
{
    int ms = p->io_ms > 0 && p->io_ms < LINGER_MS ? p->io_ms : LINGER_MS;
    weft_deadline d = weft_deadline_in(ms);
    /* What down still held for the protocol goes too: it said it is done. */
    unsigned char *buf = p->down;

    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(p->ssl);
        if (r >= 0)
            break;
        short ev = ssl_wants(p->ssl, r);
        if (ev == 0 || wait_fd(p->fd, ev, d) <= 0) {
            ERR_clear_error();
            return; /* no close_notify: the reset does no more harm */
        }
    }
    ERR_clear_error();
    shutdown(p->fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(p->fd, buf, sizeof p->down, 0);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n == 0 || errno != EAGAIN || wait_fd(p->fd, POLLIN, d) <= 0)
            return;
    }
}

/* Move bytes both ways until the protocol's end is closed and all it
 * wrote went out, or either side fails. */
static void pump(weft_tls_conn *p)
{
    size_t up_len = 0, up_off = 0, down_len = 0, down_off = 0;
    bool local_eof = false, peer_eof = false;
    short rd_want = POLLIN, wr_want = 0; /* what SSL_read / SSL_write await */

    for (;;) {
        bool moved = false;
        int r, e;

        /* Peer -> protocol. */
        if (!peer_eof && down_off == down_len) {
            ERR_clear_error();
            errno = 0;
            r = SSL_read(p->ssl, p->down, sizeof p->down);
            e = errno;
            if (r > 0) {
                down_len = (size_t)r;
                down_off = 0;
                moved = true;
            } else if (SSL_get_error(p->ssl, r) == SSL_ERROR_ZERO_RETURN) {
                /* close_notify: the peer says no more; the protocol sees
                 * end of file, and may still answer. */
                peer_eof = true;
                shutdown(p->far, SHUT_WR);
                moved = true;
            } else if ((rd_want = ssl_wants(p->ssl, r)) == 0) {
                ssl_reason(p->err, sizeof p->err, "receive", p->ssl, r, e);
                return;
            }
        }
        if (down_off < down_len) {
            ssize_t w = send(p->far, p->down + down_off, down_len - down_off,
                             MSG_NOSIGNAL);
            if (w > 0) {
                down_off += (size_t)w;
                moved = true;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                return; /* the protocol closed its end: it is done */
            }
        }
        /* Protocol -> peer. */
        if (!local_eof && up_off == up_len) {
            ssize_t n = recv(p->far, p->up, sizeof p->up, 0);
            if (n > 0) {
                up_len = (size_t)n;
                up_off = 0;
                moved = true;
            } else if (n == 0) {
                local_eof = true;
                moved = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                return;
            }
        }
        if (up_off < up_len) {
            ERR_clear_error();
            errno = 0;
            r = SSL_write(p->ssl, p->up + up_off, (int)(up_len - up_off));
            e = errno;
            if (r > 0) {
                up_off += (size_t)r;
                moved = true;
            } else if ((wr_want = ssl_wants(p->ssl, r)) == 0) {
                ssl_reason(p->err, sizeof p->err, "send", p->ssl, r, e);
                return;
            }
        }
        if (local_eof && up_off == up_len) {
            /* All the protocol said is out: close_notify, and linger
             * until the peer has it all. What the peer still sends is
             * dropped: the protocol said it is done. */
            linger(p);
            return;
        }
        if (moved)
            continue;

        /* Nothing moved: sleep until something can. A side with nothing
         * to wait for is left out (-1), so its hang-up cannot spin. */
        struct pollfd pf[2] = {{p->fd, 0, 0}, {p->far, 0, 0}};
        if (!peer_eof && down_off == down_len)
            pf[0].events |= rd_want;
        if (up_off < up_len)
            pf[0].events |= wr_want;
        if (down_off < down_len)
            pf[1].events |= POLLOUT;
        if (!local_eof && up_off == up_len)
            pf[1].events |= POLLIN;
        for (int i = 0; i < 2; i++)
            if (pf[i].events == 0)
                pf[i].fd = -1;
        bool pending = down_off < down_len || up_off < up_len;
        r = poll(pf, 2, pending ? p->io_ms : -1);
        if (r == 0) {
            snprintf(p->err, sizeof p->err,
                     "timed out with bytes to move (after %d ms)", p->io_ms);
            return;
        }
        if (r < 0 && errno != EINTR) {
            snprintf(p->err, sizeof p->err, "poll: %s", strerror(errno));
            return;
        }
    }
}

/* The protocol's end sees end of file (and EPIPE) from here on, as if
 * the pump's end were closed. It is only shut down: the descriptor stays
 * open until weft_tls_close (or weft_tls_forget in a child), so no other
 * thread - nor a child forked meanwhile - ever meets its number reused. */
static void close_far(weft_tls_conn *p)
{
    shutdown(p->far, SHUT_RDWR);
}

static void *pump_main(void *arg)
{
    weft_tls_conn *p = arg;

    pthread_setname_np(pthread_self(), "weft-tls-pump");
    if (p->ssl == NULL && handshake(p->ctx, p->fd, true, NULL, p->io_ms,
                                    &p->ssl, p->err, sizeof p->err) < 0) {
        close_far(p);
        return NULL;
    }
    pump(p);
    close_far(p);
    return NULL;
}

/* Start pumping between fd and a new socket pair. With ssl NULL the pump
 * thread does the server handshake first; otherwise it takes over ssl (a
 * finished handshake; freed here on failure). */
static int pump_start(weft_tls_conn **out, SSL_CTX *ctx, SSL *ssl, int fd,
                      int io_ms)
{
    int sv[2], rc, buf = PAIR_BUF;
    pthread_attr_t attr;
    sigset_t all, old;
    weft_tls_conn *p = calloc(1, sizeof *p);

    if (p == NULL) {
        SSL_free(ssl);
        return -ENOMEM;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) <
        0) {
        rc = -errno;
        SSL_free(ssl);
        free(p);
        return rc;
    }
    /* Room for a few records each way, so the copy is not a bottleneck. */
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    }
    SSL_CTX_up_ref(ctx);
    p->ctx = ctx;
    p->ssl = ssl;
    p->fd = fd;
    p->local = sv[0];
    p->far = sv[1];
    p->io_ms = io_ms > 0 ? io_ms : -1;
    rc = set_nonblock(fd);
    if (rc == 0)
        rc = -pthread_attr_init(&attr);
    if (rc < 0)
        goto fail;
    pthread_attr_setstacksize(&attr, PUMP_STACK);
    /* The pump takes no signals: the program's own threads handle them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&p->thread, &attr, pump_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    close(sv[0]);
    close(sv[1]);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    free(p);
    return rc;
}

int weft_tls_accept(weft_tls_conn **out, weft_tls_ctx *ctx, int fd, int io_ms)
{
    if (out == NULL || ctx == NULL || fd < 0)
        return -EINVAL;
    return pump_start(out, ctx->ssl_ctx, NULL, fd, io_ms);
}

int weft_tls_connect(weft_tls_conn **out, weft_tls_ctx *ctx, int fd,
                     const char *host, int timeout_ms, int io_ms, char *err,
                     size_t errlen)
{
    char why[WEFT_TLS_ERR_MAX];
    SSL *ssl = NULL;
    int rc;

    if (out == NULL || ctx == NULL || fd < 0)
        return -EINVAL;
    struct nosigpipe np;
    nosigpipe_begin(&np);
    rc = handshake(ctx->ssl_ctx, fd, false, host, timeout_ms, &ssl, why,
                   sizeof why);
    nosigpipe_end(&np);
    if (rc == 0) {
        rc = pump_start(out, ctx->ssl_ctx, ssl, fd, io_ms);
        if (rc < 0)
            snprintf(why, sizeof why, "TLS: %s", strerror(-rc));
    }
    if (rc < 0)
        set_err(err, errlen, why);
    return rc;
}

int weft_tls_fd(const weft_tls_conn *c)
{
    return c->local;
}

int weft_tls_close(weft_tls_conn *c, int flags, char *err, size_t errlen)
{
    char buf[4096];
    int rc;

    if (c == NULL)
        return 0;
    if (!(flags & WEFT_TLS_FD_CLOSED)) {
        /* No more from the protocol: the pump sends what is left, then
         * close_notify, and shuts its end. What the peer still sends in
         * the meantime is read and dropped, so the pump never waits on
         * us. */
        shutdown(c->local, SHUT_WR);
        while (weft_co_read(c->local, buf, sizeof buf, -1) > 0)
            continue;
    } else {
        /* The user closed its end, but that is the end of file the pump
         * waits for only once every copy is closed - a forked child may
         * still hold one. So the pump's end stops receiving instead:
         * what was written before is still read, then end of file, and
         * the pump sends that, then close_notify, and ends. */
        shutdown(c->far, SHUT_RD);
    }
    pthread_join(c->thread, NULL);
    rc = c->err[0] != '\0' ? -EPROTO : 0;
    if (rc < 0)
        set_err(err, errlen, c->err);
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (!(flags & WEFT_TLS_FD_CLOSED))
        close(c->local);
    close(c->far);
    if (flags & WEFT_TLS_CLOSE_SOCKET)
        close(c->fd);
    free(c);
    return rc;
}

/* What forked children gave up, kept reachable so leak checkers see a
 * deliberate keep, not a loss. Pushed without a lock: a lock the parent
 * held at fork() would never be released in the child. */
struct forgotten {
    SSL *ssl;
    SSL_CTX *ctx;
    struct forgotten *next;
};
static _Atomic(struct forgotten *) forgotten_list;

void weft_tls_forget(weft_tls_conn *c, int flags)
{
    struct forgotten *f;

    if (c == NULL)
        return;
    if (!(flags & WEFT_TLS_FD_CLOSED))
        close(c->local);
    if (flags & WEFT_TLS_CLOSE_SOCKET)
        close(c->fd);
    close(c->far);
    f = malloc(sizeof *f);
    if (f != NULL) {
        f->ssl = c->ssl;
        f->ctx = c->ctx;
        f->next = atomic_load(&forgotten_list);
        while (!atomic_compare_exchange_weak(&forgotten_list, &f->next, f))
            continue;
    }
    free(c);
}
