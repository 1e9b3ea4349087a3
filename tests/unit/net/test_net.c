/* test_net.c - addresses, stream sockets, whole transfers and UDP, in
 * plain blocking code and inside coroutines. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

/* ---- addresses --------------------------------------------------------- */

static void round_trip(const char *in, const char *want)
{
    weft_addr a;
    char buf[WEFT_ADDR_TEXT_MAX];
    assert_int_equal(weft_addr_parse(&a, in), 0);
    assert_true(weft_addr_format(&a, buf, sizeof buf) > 0);
    assert_string_equal(buf, want);
}

static void test_addr_parse(void **state)
{
    (void)state;
    round_trip("127.0.0.1:9000", "127.0.0.1:9000");
    round_trip("[::1]:9000", "[::1]:9000");
    round_trip("[::]:0", "[::]:0");
    round_trip(":8080", "0.0.0.0:8080");
    round_trip("*:8080", "0.0.0.0:8080");
    round_trip("0.0.0.0:65535", "0.0.0.0:65535");
    round_trip("/tmp/weft.sock", "/tmp/weft.sock");
    round_trip("unix:rel.sock", "rel.sock");
    /* localhost resolves to a loopback address of either family. */
    weft_addr a;
    char buf[WEFT_ADDR_TEXT_MAX];
    assert_int_equal(weft_addr_parse(&a, "localhost:9000"), 0);
    assert_int_equal(weft_addr_port(&a), 9000);
    weft_addr_format(&a, buf, sizeof buf);
    assert_true(strcmp(buf, "127.0.0.1:9000") == 0 ||
                strcmp(buf, "[::1]:9000") == 0);

    static const char *bad[] = {
        "",           "127.0.0.1",     "127.0.0.1:",   "127.0.0.1:x",
        "1.2.3.4:-1", "1.2.3.4:65536", "1.2.3.4:80x",  "::1:80",
        "[::1]",      "[::1]80",       "[nonsense]:1", "[::1:80",
        "unix:",      "1.2.3.4: 80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = weft_addr_parse(&a, bad[i]);
        if (rc != -EINVAL)
            print_message("parse(\"%s\") = %d\n", bad[i], rc);
        assert_int_equal(rc, -EINVAL);
    }
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(weft_addr_parse(&a, longpath), -EINVAL);
    assert_int_equal(weft_addr_parse(&a, "no-such-host.invalid:80"), -ENOENT);
    assert_int_equal(weft_addr_parse(NULL, "1.2.3.4:1"), -EINVAL);
    /* Formatting into a small buffer. */
    assert_int_equal(weft_addr_parse(&a, "127.0.0.1:9000"), 0);
    assert_int_equal(weft_addr_format(&a, buf, 5), -ENOSPC);
    assert_int_equal(strlen(buf), 4);
    assert_int_equal(weft_addr_parse(&a, "/x.sock"), 0);
    assert_int_equal(weft_addr_port(&a), -EAFNOSUPPORT);
}

/* ---- streams, blocking --------------------------------------------------- */

struct peer {
    int fd;
    size_t len;
    int chunk;    /* bytes per write, to make short reads */
    int pause_ms; /* between chunks */
    bool close_early;
};

static void *dribble(void *arg)
{
    struct peer *p = arg;
    static char data[1 << 20];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 31);
    size_t n = p->close_early ? p->len / 2 : p->len;
    for (size_t off = 0; off < n;) {
        size_t c = n - off < (size_t)p->chunk ? n - off : (size_t)p->chunk;
        ssize_t w = write(p->fd, data + off, c);
        if (w <= 0)
            break;
        off += (size_t)w;
        if (p->pause_ms > 0)
            weft_sleep_ms(p->pause_ms);
    }
    close(p->fd);
    return NULL;
}

static int listen_any(weft_addr *bound)
{
    weft_addr a;
    assert_int_equal(weft_addr_parse(&a, "127.0.0.1:0"), 0);
    int lfd = weft_listen(&a, 0);
    assert_true(lfd >= 0);
    assert_int_equal(weft_addr_local(lfd, bound), 0);
    assert_true(weft_addr_port(bound) > 0);
    return lfd;
}

static void test_stream_blocking(void **state)
{
    (void)state;
    weft_addr bound;
    int lfd = listen_any(&bound);
    /* Port in use. */
    assert_int_equal(weft_listen(&bound, 0), -EADDRINUSE);
    assert_int_equal(weft_accept(lfd, NULL, 0), -EAGAIN);
    assert_int_equal(weft_accept(lfd, NULL, 30), -ETIMEDOUT);

    int c = weft_connect(&bound, 1000);
    assert_true(c >= 0);
    weft_addr peer;
    int s = weft_accept(lfd, &peer, 1000);
    assert_true(s >= 0);
    weft_addr cl;
    assert_int_equal(weft_addr_local(c, &cl), 0);
    assert_int_equal(weft_addr_port(&peer), weft_addr_port(&cl));

    /* Short writes, read back exactly. */
    struct peer p = {.fd = c, .len = 300000, .chunk = 777};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dribble, &p), 0);
    static char got[300000];
    size_t n = 0;
    assert_int_equal(weft_read_exact(s, got, sizeof got, &n, 5000), 0);
    assert_int_equal(n, sizeof got);
    for (size_t i = 0; i < sizeof got; i++)
        assert_int_equal(got[i], (char)(i * 31));
    pthread_join(t, NULL);
    /* The peer closed: end of file is WEFT_ECLOSED with the count. */
    assert_int_equal(weft_read_exact(s, got, 10, &n, 1000), WEFT_ECLOSED);
    assert_int_equal(n, 0);
    close(s);

    /* A peer that closes half-way. */
    c = weft_connect(&bound, 1000);
    s = weft_accept(lfd, NULL, 1000);
    p = (struct peer){.fd = c, .len = 1000, .chunk = 100, .close_early = true};
    assert_int_equal(pthread_create(&t, NULL, dribble, &p), 0);
    assert_int_equal(weft_read_exact(s, got, 1000, &n, 5000), WEFT_ECLOSED);
    assert_int_equal(n, 500);
    pthread_join(t, NULL);
    close(s);

    /* A slow peer: the timeout bounds the whole transfer. */
    c = weft_connect(&bound, 1000);
    s = weft_accept(lfd, NULL, 1000);
    p = (struct peer){.fd = c, .len = 100, .chunk = 10, .pause_ms = 50};
    assert_int_equal(pthread_create(&t, NULL, dribble, &p), 0);
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_read_exact(s, got, 100, &n, 120), -ETIMEDOUT);
    assert_true(weft_now_ms() - t0 < 1000);
    assert_true(n > 0 && n < 100);
    pthread_join(t, NULL);
    close(s);

    /* write_all to a peer that reads nothing: times out with a count;
     * to a peer that closed: -EPIPE, not SIGPIPE. */
    c = weft_connect(&bound, 1000);
    s = weft_accept(lfd, NULL, 1000);
    static char big[4 << 20];
    size_t sent = 0;
    assert_int_equal(weft_write_all(c, big, sizeof big, &sent, 100),
                     -ETIMEDOUT);
    assert_true(sent > 0 && sent < sizeof big);
    close(s);
    int rc = weft_write_all(c, big, sizeof big, &sent, 1000);
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    close(c);

    /* Refused. */
    close(lfd);
    assert_int_equal(weft_connect(&bound, 1000), -ECONNREFUSED);
}

/* write_all and read_exact on a pipe (not a socket). */
static void test_pipe_transfer(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct peer p = {.fd = fds[1], .len = 200000, .chunk = 4096};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dribble, &p), 0);
    static char got[200000];
    assert_int_equal(weft_read_exact(fds[0], got, sizeof got, NULL, 5000), 0);
    pthread_join(t, NULL);
    close(fds[0]);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(weft_write_all(fds[1], "abc", 3, NULL, 100), 0);
    char b[3];
    assert_int_equal(weft_read_exact(fds[0], b, 3, NULL, 100), 0);
    assert_memory_equal(b, "abc", 3);
    close(fds[0]);
    assert_int_equal(weft_write_all(fds[1], "abc", 3, NULL, 100), -EPIPE);
    close(fds[1]);
}

/* ---- unix sockets
 * ------------------------------------------------------------ */

static void test_unix(void **state)
{
    (void)state;
    char path[] = "/tmp/weft-net-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    unlink(path);
    weft_addr a;
    assert_int_equal(weft_addr_parse(&a, path), 0);
    int lfd = weft_listen(&a, 0);
    assert_true(lfd >= 0);
    int c = weft_connect(&a, 1000);
    int s = weft_accept(lfd, NULL, 1000);
    assert_true(c >= 0 && s >= 0);
    assert_int_equal(weft_write_all(c, "ping", 4, NULL, 1000), 0);
    char b[4];
    assert_int_equal(weft_read_exact(s, b, 4, NULL, 1000), 0);
    close(c);
    close(s);
    /* A second server on a live path: refused (its check shows the live
     * server one connection that ends at once). */
    assert_int_equal(weft_listen(&a, 0), -EADDRINUSE);
    s = weft_accept(lfd, NULL, 1000);
    assert_true(s >= 0);
    assert_int_equal(weft_read_exact(s, b, 4, NULL, 1000), WEFT_ECLOSED);
    close(s);
    /* The server dies without unlinking: the stale path is taken over. */
    close(lfd);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    lfd = weft_listen(&a, 0);
    assert_true(lfd >= 0);
    close(lfd);
    unlink(path);
}

/* ---- UDP
 * ---------------------------------------------------------------------- */

static void test_udp(void **state)
{
    (void)state;
    weft_addr a, bound, from;
    assert_int_equal(weft_addr_parse(&a, "127.0.0.1:0"), 0);
    int srv = weft_udp_bind(&a);
    assert_true(srv >= 0);
    assert_int_equal(weft_addr_local(srv, &bound), 0);
    int cl = weft_udp_socket(&bound);
    assert_true(cl >= 0);
    char buf[64];
    assert_int_equal(weft_udp_recvfrom(srv, buf, sizeof buf, &from, 0),
                     -EAGAIN);
    assert_int_equal(weft_udp_recvfrom(srv, buf, sizeof buf, &from, 30),
                     -ETIMEDOUT);
    /* Boundaries kept: three datagrams, three receives. */
    assert_int_equal(weft_udp_sendto(cl, "one", 3, &bound, 100), 3);
    assert_int_equal(weft_udp_sendto(cl, "two!", 4, &bound, 100), 4);
    assert_int_equal(weft_udp_sendto(cl, "", 0, &bound, 100), 0);
    assert_int_equal(weft_udp_recvfrom(srv, buf, sizeof buf, &from, 1000), 3);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(weft_udp_recvfrom(srv, buf, sizeof buf, &from, 1000), 4);
    assert_int_equal(weft_udp_recvfrom(srv, buf, sizeof buf, &from, 1000), 0);
    /* The reply goes back to where it came from. */
    assert_int_equal(weft_udp_sendto(srv, "back", 4, &from, 100), 4);
    assert_int_equal(weft_udp_recvfrom(cl, buf, sizeof buf, NULL, 1000), 4);
    /* Too long for the buffer: cut, and said so. */
    char big[100];
    memset(big, 'b', sizeof big);
    assert_int_equal(weft_udp_sendto(cl, big, sizeof big, &bound, 100), 100);
    assert_int_equal(weft_udp_recvfrom(srv, buf, 10, NULL, 1000), -EMSGSIZE);
    close(cl);
    close(srv);
}

/* ---- inside coroutines
 * ----------------------------------------------------------- */

static weft_addr co_bound;

static int co_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (int i = 0; i < 50; i++) {
        int s = weft_accept(lfd, NULL, 5000);
        if (s < 0)
            return s;
        char line[16];
        if (weft_read_exact(s, line, sizeof line, NULL, 5000) == 0)
            weft_write_all(s, line, sizeof line, NULL, 5000);
        close(s);
    }
    return 0;
}

static int co_ok;

static int co_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int c = weft_connect(&co_bound, 5000);
    if (c < 0)
        return c;
    char line[16], back[16];
    snprintf(line, sizeof line, "client %8d", id);
    if (weft_write_all(c, line, sizeof line, NULL, 5000) == 0 &&
        weft_read_exact(c, back, sizeof back, NULL, 5000) == 0 &&
        memcmp(line, back, sizeof line) == 0)
        co_ok++;
    close(c);
    return 0;
}

static int co_main(void *arg)
{
    (void)arg;
    int lfd = listen_any(&co_bound);
    weft_co *srv;
    weft_co_spawn(&srv, co_server, (void *)(intptr_t)lfd, NULL);
    weft_co *cls[50];
    for (int i = 0; i < 50; i++)
        weft_co_spawn(&cls[i], co_client, (void *)(intptr_t)i, NULL);
    weft_co_join_all(cls, 50, 20000);
    for (int i = 0; i < 50; i++)
        weft_co_release(cls[i]);
    int r = -1;
    weft_co_join(srv, 20000, &r);
    weft_co_release(srv);
    close(lfd);
    return r;
}

static void test_in_coroutines(void **state)
{
    (void)state;
    int r = -1;
    co_ok = 0;
    assert_int_equal(weft_co_run(co_main, NULL, NULL, &r), 0);
    assert_int_equal(r, 0);
    /* Fifty clients and the server, one thread, no blocking. */
    assert_int_equal(co_ok, 50);
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: none comes */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_stream_blocking),
        cmocka_unit_test(test_pipe_transfer),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_in_coroutines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
