/* test_tls.c - libweft's TLS pump (weft/tls.h) over loopback: contexts,
 * a server and a client moving bytes both ways, the client's checks of
 * the server's certificate (untrusted, wrong name), handshakes that fail
 * (garbage, silence, a hang-up), close semantics (everything written
 * arrives before end of file; a descriptor its user closed, also while a
 * forked child holds a copy; no thread or descriptor left behind) and a forked
 * child that gives a connection up.
 *
 * The certificates are made at test time with the openssl command; the
 * test is skipped when it is missing. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/tls_helpers.h"

#define BIG (3 * 1024 * 1024 + 17) /* more than every buffer on the way */

static char dir[64];
static char cert_a[128], key_a[128], cert_b[128], key_b[128];
static bool have_certs;

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/weft-tls-test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cert_a, sizeof cert_a, "%s/a.pem", dir);
    snprintf(key_a, sizeof key_a, "%s/a.key", dir);
    snprintf(cert_b, sizeof cert_b, "%s/b.pem", dir);
    snprintf(key_b, sizeof key_b, "%s/b.key", dir);
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        fprintf(stderr, "openssl command missing: TLS tests skipped\n");
        return 0;
    }
    if (test_make_cert(cert_a, key_a) < 0 || test_make_cert(cert_b, key_b) < 0)
        return -1;
    have_certs = true;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define NEED_CERTS()                                                           \
    do {                                                                       \
        if (!have_certs)                                                       \
            skip();                                                            \
    } while (0)

/* No pump thread is left: every one was joined. (A joined thread may
 * still show in /proc for a moment - glibc's join returns at the
 * kernel's clear of the thread id, the task is released just after - so
 * the count is given one.) */
static void assert_threads_gone(void)
{
    for (int i = 0; i < 500 && test_count_pumps() != 0; i++)
        weft_sleep_ms(10);
    assert_int_equal(test_count_pumps(), 0);
}

static int listen_any(weft_addr *a)
{
    assert_int_equal(weft_addr_parse(a, "127.0.0.1:0"), 0);
    int lfd = weft_listen(a, 16);
    assert_true(lfd >= 0);
    assert_int_equal(weft_addr_local(lfd, a), 0);
    return lfd;
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 31 + (i >> 11));
}

/* ---- a TLS server on a thread ---------------------------------------- */

enum srv_mode {
    ECHO_BIG,   /* read BIG bytes, check them, send BIG bytes back */
    READ_TO_EOF /* count bytes until end of file */
};

struct srv {
    int lfd;
    weft_tls_ctx *ctx;
    enum srv_mode mode;
    pthread_t thread;
    /* results */
    int accept_rc;
    size_t got;   /* bytes read */
    bool eof;     /* end of file seen */
    bool data_ok; /* what came was the pattern */
    int close_rc; /* weft_tls_close's */
    char close_err[WEFT_TLS_ERR_MAX];
};

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    int fd = weft_accept(s->lfd, NULL, 20000);
    weft_tls_conn *c = NULL;
    unsigned char *buf = malloc(BIG), tmp[65536];

    s->data_ok = true;
    s->accept_rc = fd < 0 ? fd : weft_tls_accept(&c, s->ctx, fd, 10000);
    if (s->accept_rc < 0 || buf == NULL)
        goto out;
    int tfd = weft_tls_fd(c);
    size_t want = s->mode == ECHO_BIG ? BIG : SIZE_MAX;
    while (s->got < want) {
        size_t n = want - s->got < sizeof tmp ? want - s->got : sizeof tmp;
        ssize_t r = weft_co_read(tfd, tmp, n, 20000);
        if (r <= 0) {
            s->eof = r == 0;
            break;
        }
        for (ssize_t i = 0; i < r; i++)
            if (tmp[i] != pattern(s->got + (size_t)i))
                s->data_ok = false;
        s->got += (size_t)r;
    }
    if (s->mode == ECHO_BIG && s->got == BIG) {
        for (size_t i = 0; i < BIG; i++)
            buf[i] = (unsigned char)~pattern(i);
        if (weft_write_all(tfd, buf, BIG, NULL, 20000) < 0)
            s->data_ok = false;
        /* The client closes after reading it all: end of file. */
        s->eof = weft_co_read(tfd, buf, 1, 20000) == 0;
    }
    s->close_rc = weft_tls_close(c, 0, s->close_err, sizeof s->close_err);
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void srv_start(struct srv *s, weft_addr *a, const char *cert,
                      const char *key, enum srv_mode mode)
{
    char err[WEFT_TLS_ERR_MAX];
    memset(s, 0, sizeof *s);
    s->lfd = listen_any(a);
    s->mode = mode;
    assert_int_equal(weft_tls_server_ctx(&s->ctx, cert, key, err, sizeof err),
                     0);
    assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_join(struct srv *s)
{
    pthread_join(s->thread, NULL);
    weft_tls_ctx_destroy(s->ctx);
    close(s->lfd);
}

/* Connect a TLS client to a, trusting ca (NULL: the system's). */
static int client(weft_addr *a, const char *ca, const char *host,
                  weft_tls_conn **out, int *sock, char *err)
{
    weft_tls_ctx *ctx;
    int rc;

    assert_int_equal(weft_tls_client_ctx(&ctx, ca, err, WEFT_TLS_ERR_MAX), 0);
    *sock = weft_connect(a, 5000);
    assert_true(*sock >= 0);
    rc = weft_tls_connect(out, ctx, *sock, host, 5000, 5000, err,
                          WEFT_TLS_ERR_MAX);
    /* The connection keeps a reference of its own. */
    weft_tls_ctx_destroy(ctx);
    return rc;
}

/* ---- tests ----------------------------------------------------------- */

static void test_contexts(void **state)
{
    char err[WEFT_TLS_ERR_MAX];
    char missing[160];
    weft_tls_ctx *ctx = NULL;
    (void)state;
    NEED_CERTS();

    snprintf(missing, sizeof missing, "%s/missing.pem", dir);
    err[0] = '\0';
    assert_int_equal(weft_tls_server_ctx(&ctx, missing, NULL, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "missing.pem"));
    /* a key that is not the certificate's */
    err[0] = '\0';
    assert_int_equal(weft_tls_server_ctx(&ctx, cert_a, key_b, err, sizeof err),
                     -EINVAL);
    /* OpenSSL sees it on loading the key ("key values mismatch") */
    assert_non_null(strstr(err, "b.key"));
    assert_true(strstr(err, "mismatch") != NULL ||
                strstr(err, "does not match") != NULL);
    /* the key in the certificate's file: it is not, so this fails too */
    assert_int_equal(weft_tls_server_ctx(&ctx, cert_a, NULL, NULL, 0), -EINVAL);
    assert_int_equal(weft_tls_client_ctx(&ctx, missing, err, sizeof err),
                     -EINVAL);
    assert_int_equal(weft_tls_server_ctx(&ctx, cert_a, key_a, err, sizeof err),
                     0);
    weft_tls_ctx_destroy(ctx);
    assert_int_equal(weft_tls_client_ctx(&ctx, NULL, err, sizeof err), 0);
    weft_tls_ctx_destroy(ctx);
    weft_tls_ctx_destroy(NULL);
}

/* BIG bytes each way through both pumps, by address and by name; then
 * every thread and descriptor is gone. */
static void round_trip(const char *host)
{
    char err[WEFT_TLS_ERR_MAX];
    struct srv s;
    weft_addr a;
    weft_tls_conn *c;
    int sock, fds = test_count_fds();
    unsigned char *buf = malloc(BIG);

    assert_non_null(buf);
    srv_start(&s, &a, cert_a, key_a, ECHO_BIG);
    assert_int_equal(client(&a, cert_a, host, &c, &sock, err), 0);
    int tfd = weft_tls_fd(c);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    /* the count below sees pumps: ours and, soon, the server's */
    for (int i = 0; i < 500 && test_count_pumps() != 2; i++)
        weft_sleep_ms(10);
    assert_int_equal(test_count_pumps(), 2);
    assert_int_equal(weft_write_all(tfd, buf, BIG, NULL, 20000), 0);
    memset(buf, 0, BIG);
    assert_int_equal(weft_read_exact(tfd, buf, BIG, NULL, 20000), 0);
    for (size_t i = 0; i < BIG; i++)
        if (buf[i] != (unsigned char)~pattern(i))
            fail_msg("byte %zu differs", i);
    assert_int_equal(weft_tls_close(c, 0, err, sizeof err), 0);
    close(sock);
    srv_join(&s);
    assert_int_equal(s.accept_rc, 0);
    assert_int_equal(s.got, BIG);
    assert_true(s.data_ok);
    assert_true(s.eof);
    assert_int_equal(s.close_rc, 0);
    free(buf);
    assert_threads_gone();
    assert_int_equal(test_count_fds(), fds);
}

static void test_round_trip_ip(void **state)
{
    (void)state;
    NEED_CERTS();
    round_trip("127.0.0.1");
}

static void test_round_trip_name(void **state)
{
    (void)state;
    NEED_CERTS();
    round_trip("localhost");
}

/* The client refuses what it cannot trust: -EACCES and the reason. The
 * server sees the handshake fail. */
static void refused(const char *cert, const char *key, const char *ca,
                    const char *host)
{
    char err[WEFT_TLS_ERR_MAX] = "";
    struct srv s;
    weft_addr a;
    weft_tls_conn *c = NULL;
    int sock, fds = test_count_fds();

    srv_start(&s, &a, cert, key, READ_TO_EOF);
    assert_int_equal(client(&a, ca, host, &c, &sock, err), -EACCES);
    assert_null(c);
    assert_non_null(strstr(err, "certificate verify failed"));
    close(sock);
    srv_join(&s);
    assert_int_equal(s.got, 0);
    assert_int_equal(s.close_rc, -EPROTO);
    assert_true(s.close_err[0] != '\0');
    assert_int_equal(test_count_fds(), fds);
}

static void test_untrusted(void **state)
{
    (void)state;
    NEED_CERTS();
    refused(cert_b, key_b, cert_a, "127.0.0.1"); /* another self-signed */
    refused(cert_a, key_a, NULL, "localhost");   /* not a system CA's */
}

static void test_wrong_host(void **state)
{
    (void)state;
    NEED_CERTS();
    refused(cert_a, key_a, cert_a, "example.org");
    refused(cert_a, key_a, cert_a, "127.0.0.2");
}

/* A client that speaks no TLS: the server's pump ends with the reason,
 * its end reads end of file, nothing hangs. */
static void test_garbage_to_server(void **state)
{
    static const char junk[] = "GET / HTTP/1.0\r\n\r\n"
                               "\x16\x03\x01 this is no handshake";
    struct srv s;
    weft_addr a;
    char b[64];
    (void)state;
    NEED_CERTS();

    srv_start(&s, &a, cert_a, key_a, READ_TO_EOF);
    int fd = weft_connect(&a, 5000);
    assert_true(fd >= 0);
    assert_int_equal(weft_write_all(fd, junk, sizeof junk, NULL, 5000), 0);
    /* The server hangs up (an alert at most, never data). */
    ssize_t n;
    while ((n = weft_co_read(fd, b, sizeof b, 10000)) > 0)
        continue;
    assert_true(n == 0 || n == -ECONNRESET);
    close(fd);
    srv_join(&s);
    assert_int_equal(s.accept_rc, 0);
    assert_int_equal(s.got, 0);
    assert_true(s.eof);
    assert_int_equal(s.close_rc, -EPROTO);
    assert_true(s.close_err[0] != '\0');
}

/* A plain server behind the client's handshake. */
enum raw_mode { RAW_GARBAGE, RAW_SILENT, RAW_HANGUP };
struct raw {
    int lfd;
    enum raw_mode mode;
    pthread_t thread;
};

static void *raw_main(void *arg)
{
    struct raw *r = arg;
    char b[4096];
    int fd = weft_accept(r->lfd, NULL, 10000);
    if (fd < 0)
        return NULL;
    if (r->mode != RAW_HANGUP)
        (void)weft_co_read(fd, b, sizeof b, 5000); /* the ClientHello */
    if (r->mode == RAW_GARBAGE)
        (void)weft_write_all(fd, "-ERR unknown command\r\n", 22, NULL, 5000);
    /* silent: wait for the client to give up */
    if (r->mode != RAW_HANGUP)
        while (weft_co_read(fd, b, sizeof b, 10000) > 0)
            continue;
    close(fd);
    return NULL;
}

static void client_fails(enum raw_mode mode, int want)
{
    char err[WEFT_TLS_ERR_MAX] = "";
    struct raw r = {.mode = mode};
    weft_addr a;
    weft_tls_ctx *ctx;
    weft_tls_conn *c = NULL;

    r.lfd = listen_any(&a);
    assert_int_equal(pthread_create(&r.thread, NULL, raw_main, &r), 0);
    assert_int_equal(weft_tls_client_ctx(&ctx, cert_a, err, sizeof err), 0);
    int fd = weft_connect(&a, 5000);
    assert_true(fd >= 0);
    int64_t t0 = weft_now_ms();
    assert_int_equal(
        weft_tls_connect(&c, ctx, fd, "127.0.0.1", 300, 300, err, sizeof err),
        want);
    assert_true(weft_now_ms() - t0 < 3000);
    assert_null(c);
    assert_true(err[0] != '\0');
    close(fd);
    pthread_join(r.thread, NULL);
    close(r.lfd);
    weft_tls_ctx_destroy(ctx);
}

static void test_garbage_to_client(void **state)
{
    (void)state;
    NEED_CERTS();
    client_fails(RAW_GARBAGE, -EPROTO);
    client_fails(RAW_SILENT, -ETIMEDOUT);
    client_fails(RAW_HANGUP, -ECONNRESET);
}

/* Close semantics: bytes written just before weft_tls_close all arrive,
 * then end of file; and with WEFT_TLS_FD_CLOSED (the user closed the
 * descriptor itself, as hiredis does) the same holds, the socket is
 * closed with WEFT_TLS_CLOSE_SOCKET, and nothing is left open. */
static void close_then_eof(int flags)
{
    char err[WEFT_TLS_ERR_MAX];
    struct srv s;
    weft_addr a;
    weft_tls_conn *c;
    int sock, fds = test_count_fds();
    const size_t n = 1 << 20;
    unsigned char *buf = malloc(n);

    assert_non_null(buf);
    srv_start(&s, &a, cert_a, key_a, READ_TO_EOF);
    assert_int_equal(client(&a, cert_a, "127.0.0.1", &c, &sock, err), 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(i);
    /* Into the pair's buffer; most of it is still on its way. */
    assert_int_equal(weft_write_all(weft_tls_fd(c), buf, n, NULL, 20000), 0);
    if (flags & WEFT_TLS_FD_CLOSED)
        close(weft_tls_fd(c));
    assert_int_equal(weft_tls_close(c, flags, err, sizeof err), 0);
    if (!(flags & WEFT_TLS_CLOSE_SOCKET))
        close(sock); /* else closed by weft_tls_close: counted below */
    srv_join(&s);
    if (s.got != n || !s.eof)
        fail_msg("flags %d: the server got %zu of %zu bytes, eof %d, "
                 "close %d (%s)",
                 flags, s.got, n, s.eof, s.close_rc, s.close_err);
    assert_true(s.data_ok);
    assert_true(s.eof);
    assert_int_equal(s.close_rc, 0);
    free(buf);
    assert_threads_gone();
    assert_int_equal(test_count_fds(), fds);
    assert_int_equal(weft_tls_close(NULL, 0, NULL, 0), 0);
}

static void test_close(void **state)
{
    (void)state;
    NEED_CERTS();
    close_then_eof(0);
    close_then_eof(WEFT_TLS_FD_CLOSED | WEFT_TLS_CLOSE_SOCKET);
}

/* WEFT_TLS_FD_CLOSED while a forked child still holds a copy of the
 * descriptor (so the user's close is no end of file yet): the close still
 * ends the pump at once, and the server gets everything, then EOF. */
static void test_close_with_child_copy(void **state)
{
    char err[WEFT_TLS_ERR_MAX];
    struct srv s;
    weft_addr a;
    weft_tls_conn *c;
    int sock, st, hold[2];
    (void)state;
    NEED_CERTS();

    srv_start(&s, &a, cert_a, key_a, READ_TO_EOF);
    assert_int_equal(client(&a, cert_a, "127.0.0.1", &c, &sock, err), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char b;
        close(hold[1]);
        /* Hold every inherited descriptor until the parent says. */
        _exit(read(hold[0], &b, 1) == 0 ? 0 : 1);
    }
    close(hold[0]);
    unsigned char msg[1000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = pattern(i);
    assert_int_equal(
        weft_write_all(weft_tls_fd(c), msg, sizeof msg, NULL, 5000), 0);
    close(weft_tls_fd(c));
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_tls_close(c, WEFT_TLS_FD_CLOSED, err, sizeof err), 0);
    assert_true(weft_now_ms() - t0 < 2000);
    srv_join(&s);
    assert_int_equal(s.got, sizeof msg);
    assert_true(s.data_ok);
    assert_true(s.eof);
    close(hold[1]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(sock);
}

/* A half-close ends the connection: the byte before it arrives, the
 * server reads end of file, both closes report success. */
static void test_peer_closes(void **state)
{
    char err[WEFT_TLS_ERR_MAX];
    struct srv s;
    weft_addr a;
    weft_tls_conn *c;
    int sock;
    char b[16];
    (void)state;
    NEED_CERTS();

    srv_start(&s, &a, cert_a, key_a, READ_TO_EOF);
    assert_int_equal(client(&a, cert_a, "127.0.0.1", &c, &sock, err), 0);
    assert_int_equal(weft_write_all(weft_tls_fd(c), "x", 1, NULL, 5000), 0);
    /* Half-close our side: for the pump the protocol is done, so
     * close_notify goes out (the server reads EOF) and our end reads end
     * of file. */
    assert_int_equal(shutdown(weft_tls_fd(c), SHUT_WR), 0);
    assert_int_equal(weft_co_read(weft_tls_fd(c), b, sizeof b, 10000), 0);
    assert_int_equal(weft_tls_close(c, 0, err, sizeof err), 0);
    close(sock);
    srv_join(&s);
    assert_int_equal(s.got, 1);
    assert_true(s.eof);
}

/* A forked child gives an inherited connection up; the parent's keeps
 * working (the child touched neither the TLS state nor the socket). */
static void test_forget_in_child(void **state)
{
    char err[WEFT_TLS_ERR_MAX];
    struct srv s;
    weft_addr a;
    weft_tls_conn *c;
    int sock, st;
    unsigned char *buf = malloc(BIG);
    (void)state;
    NEED_CERTS();

    assert_non_null(buf);
    srv_start(&s, &a, cert_a, key_a, ECHO_BIG);
    assert_int_equal(client(&a, cert_a, "127.0.0.1", &c, &sock, err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int before = test_count_fds();
        weft_tls_forget(c, WEFT_TLS_CLOSE_SOCKET);
        /* its end, the pump's end and the socket: three fewer */
        _exit(test_count_fds() == before - 3 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    int tfd = weft_tls_fd(c);
    assert_int_equal(weft_write_all(tfd, buf, BIG, NULL, 20000), 0);
    assert_int_equal(weft_read_exact(tfd, buf, BIG, NULL, 20000), 0);
    assert_int_equal(buf[BIG - 1], (unsigned char)~pattern(BIG - 1));
    assert_int_equal(weft_tls_close(c, 0, err, sizeof err), 0);
    close(sock);
    srv_join(&s);
    assert_true(s.data_ok);
    assert_int_equal(s.close_rc, 0);
    weft_tls_forget(NULL, 0);
    free(buf);
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* none may come: writes use MSG_NOSIGNAL */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_round_trip_ip),
        cmocka_unit_test(test_round_trip_name),
        cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_wrong_host),
        cmocka_unit_test(test_garbage_to_server),
        cmocka_unit_test(test_garbage_to_client),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_close_with_child_copy),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_forget_in_child),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
