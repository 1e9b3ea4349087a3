/* tls.c - TLS for weftd and weft: contexts, the handshake, and the pump
 * thread between the encrypted socket and the protocol's socket pair
 * (see tls.h for why).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <weft/weft.h>

#include "tls.h"

#define PUMP_BUF   (16 * 1024)   /* one TLS record's payload at most */
#define PUMP_STACK (256 * 1024)  /* OpenSSL needs a few KiB; ample */
#define PAIR_BUF   (1024 * 1024) /* the socket pair's buffers */

struct tls_pump {
    SSL_CTX *ctx;
    SSL *ssl;  /* NULL until the handshake is done */
    int fd;    /* the TLS socket (the caller's) */
    int local; /* the protocol's end of the pair */
    int far;   /* the pump's end */
    int io_ms; /* bound on a wait while bytes are pending */
    pthread_t thread;
    char err[200];              /* why the TLS side failed; "" if it did not */
    unsigned char up[PUMP_BUF]; /* protocol -> peer */
    unsigned char down[PUMP_BUF]; /* peer -> protocol */
};

/* Why an OpenSSL call failed, as one line into err. */
static void ssl_reason(char *err, size_t n, const char *what, SSL *ssl, int ret,
                       int saved_errno)
{
    unsigned long e = ERR_peek_last_error();
    int code = ssl != NULL ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;
    long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

    if (v != X509_V_OK)
        snprintf(err, n, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(v));
    else if (e != 0)
        snprintf(err, n, "%s: %s", what, ERR_reason_error_string(e));
    else if (code == SSL_ERROR_SYSCALL && saved_errno != 0)
        snprintf(err, n, "%s: %s", what, strerror(saved_errno));
    else if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN)
        snprintf(err, n, "%s: the connection was closed", what);
    else
        snprintf(err, n, "%s: TLS error %d", what, code);
    ERR_clear_error();
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *err,
                        size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        ssl_reason(err, errlen, "TLS", NULL, 0, 0);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The pump retries a write with the rest of its buffer. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ssl_reason(err, errlen, cert_file, NULL, 0, 0);
        goto fail;
    }
    const char *key = key_file != NULL ? key_file : cert_file;
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(err, errlen, key, NULL, 0, 0);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s: the key does not match the certificate %s",
                 key, cert_file);
        ERR_clear_error();
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_client_ctx(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int ok;

    if (ctx == NULL) {
        ssl_reason(err, errlen, "TLS", NULL, 0, 0);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    ok = ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ssl_reason(err, errlen, ca_file != NULL ? ca_file : "trusted CAs", NULL,
                   0, 0);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
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

/* Client side: what to check the server's certificate against. */
static int expect_host(SSL *ssl, const char *host)
{
    unsigned char ip[16];

    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
                   ? 0
                   : -1;
    if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
        SSL_set1_host(ssl, host) != 1)
        return -1;
    return 0;
}

int tls_handshake(SSL_CTX *ctx, int fd, bool server, const char *host,
                  int timeout_ms, SSL **out, char *err, size_t errlen)
{
    weft_deadline d = weft_deadline_in(timeout_ms);
    SSL *ssl;
    int rc;

    ERR_clear_error();
    ssl = SSL_new(ctx);
    if (ssl == NULL || set_nonblock(fd) < 0 || SSL_set_fd(ssl, fd) != 1) {
        ssl_reason(err, errlen, "TLS", NULL, 0, errno);
        SSL_free(ssl);
        return -1;
    }
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (host != NULL && expect_host(ssl, host) < 0) {
            snprintf(err, errlen, "TLS: cannot check the name %s", host);
            ERR_clear_error();
            SSL_free(ssl);
            return -1;
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
            ssl_reason(err, errlen, "TLS handshake", ssl, r, errno);
            SSL_free(ssl);
            return -1;
        }
        rc = wait_fd(fd, ev, d);
        if (rc <= 0) {
            snprintf(err, errlen, "TLS handshake: %s",
                     rc == 0 ? "timed out" : strerror(-rc));
            SSL_free(ssl);
            return -1;
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

/* Move bytes both ways until the protocol's end is closed and all it
 * wrote went out, or either side fails. */
static void pump(tls_pump *p)
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
            /* All the protocol said is out: close_notify (one try; the
             * socket closes next anyway). */
            ERR_clear_error();
            SSL_shutdown(p->ssl);
            ERR_clear_error();
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

static void *pump_main(void *arg)
{
    tls_pump *p = arg;

    if (p->ssl == NULL && tls_handshake(p->ctx, p->fd, true, NULL, p->io_ms,
                                        &p->ssl, p->err, sizeof p->err) < 0) {
        close(p->far);
        return NULL;
    }
    pump(p);
    /* The protocol's end sees end of file (or EPIPE) from here on. */
    close(p->far);
    return NULL;
}

int tls_pump_start(tls_pump **out, SSL_CTX *ctx, SSL *ssl, int fd, int io_ms)
{
    int sv[2], rc, buf = PAIR_BUF;
    pthread_attr_t attr;
    sigset_t all, old;
    tls_pump *p = calloc(1, sizeof *p);

    if (p == NULL)
        return -ENOMEM;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) <
        0) {
        rc = -errno;
        free(p);
        return rc;
    }
    /* Room for a few records each way, so the copy is not a bottleneck. */
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    }
    p->ctx = ctx;
    p->ssl = ssl;
    p->fd = fd;
    p->local = sv[0];
    p->far = sv[1];
    p->io_ms = io_ms > 0 ? io_ms : -1;
    rc = set_nonblock(fd);
    if (rc == 0)
        rc = -pthread_attr_init(&attr);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        free(p);
        return rc;
    }
    pthread_attr_setstacksize(&attr, PUMP_STACK);
    /* The pump takes no signals: the server's own threads handle them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&p->thread, &attr, pump_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int tls_pump_fd(const tls_pump *p)
{
    return p->local;
}

int tls_pump_end(tls_pump *p, char *err, size_t errlen)
{
    char buf[4096];
    int rc;

    /* No more from the protocol: the pump sends what is left, then
     * close_notify, and closes its end. What the peer still sends in the
     * meantime is read and dropped, so the pump never waits on us. */
    shutdown(p->local, SHUT_WR);
    while (weft_co_read(p->local, buf, sizeof buf, -1) > 0)
        continue;
    pthread_join(p->thread, NULL);
    rc = p->err[0] != '\0' ? -1 : 0;
    if (rc < 0 && err != NULL)
        snprintf(err, errlen, "%s", p->err);
    SSL_free(p->ssl);
    close(p->local);
    free(p);
    return rc;
}
