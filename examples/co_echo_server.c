/* co_echo_server.c - one thread serving thousands of clients: the
 * upper-case echo server, one coroutine per connection.
 *
 * Python (gevent):
 *     from gevent import monkey; monkey.patch_all()
 *     import gevent, socket
 *     def talk(conn):
 *         while True:
 *             data = conn.recv(1024)
 *             if not data: break
 *             conn.send(data.upper())
 *         conn.close()
 *     server = socket.socket(); server.bind(('127.0.0.1', 8080))
 *     server.listen(5)
 *     while True:
 *         conn, addr = server.accept()
 *         gevent.spawn(talk, conn)
 *
 * An acceptor coroutine takes connections with weft_co_accept and spawns
 * a coroutine for each, which echoes with weft_co_recv / weft_co_send.
 * Each of these calls runs the other coroutines while its own socket is
 * not ready, so one thread serves every connection at once, and the code
 * of each reads like blocking code. The server owns its connections: on
 * SIGINT or SIGTERM (read from weft/signal.h's descriptor by a coroutine
 * waiting on it with weft_co_wait_fd) it cancels the acceptor and every
 * connection; their calls return -ECANCELED and each closes its socket.
 *
 * --selftest N also spawns N client coroutines in the same scheduler;
 * each connects, sends a few lines and checks the upper-cased replies.
 * Each client costs two descriptors (its socket and the server's), so the
 * soft open-files limit is raised (up to the hard limit) when needed; if
 * even the hard limit is too low, N is capped, and the program says so.
 *
 * Run: ./build/examples/co_echo_server [PORT]   (then: nc 127.0.0.1 PORT;
 *      Ctrl-C stops it)
 *      ./build/examples/co_echo_server --selftest [N]   (N: 2000)
 * Expect: "listening on 127.0.0.1:PORT"; with --selftest, then
 * "2000 clients served by one thread in NNN ms" (a few hundred ms) and
 * exit status 0; without, after Ctrl-C: "got SIGINT: stopping",
 * "served K connections".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/co.h>
#include <weft/signal.h>

#define DEFAULT_CLIENTS 2000
#define MAX_CLIENTS     20000
#define LINES           3     /* lines each self-test client sends */
#define IO_TIMEOUT_MS   10000 /* for the self-test clients */
#define SPARE_FDS       64    /* stdio, listener, epoll, signals... */

/* A connection, owned by the server until its coroutine ends. */
struct conn {
    int fd;
    weft_co *co; /* the coroutine serving it */
    struct conn *prev, *next;
};

static struct server {
    int lfd;                 /* the listening socket */
    struct sockaddr_in addr; /* where it listens */
    weft_co *acceptor;
    struct conn *conns; /* live connections */
    long served;        /* connections accepted */
} srv = {.lfd = -1};

/* Send all of buf: 0 or a negative errno value. */
static int send_all(int fd, const char *buf, size_t len, int timeout_ms)
{
    while (len > 0) {
        ssize_t n = weft_co_send(fd, buf, len, 0, timeout_ms);
        if (n < 0)
            return (int)n;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void upper(char *dst, const char *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] >= 'a' && src[i] <= 'z' ? src[i] - 'a' + 'A' : src[i];
}

/* ---- the server ---------------------------------------------------------- */

static int talk(void *arg)
{
    struct conn *c = arg;
    char buf[4096];
    ssize_t n;

    /* Until the client closes (0), an error, or a cancel (-ECANCELED). */
    while ((n = weft_co_recv(c->fd, buf, sizeof buf, 0, -1)) > 0) {
        upper(buf, buf, (size_t)n);
        if (send_all(c->fd, buf, (size_t)n, -1) < 0)
            break;
    }
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    weft_co_release(c->co); /* the scheduler keeps its own reference */
    free(c);
    return 0;
}

static int acceptor(void *arg)
{
    struct conn *c;
    int fd, rc;

    (void)arg;
    for (;;) {
        fd = weft_co_accept(srv.lfd, NULL, NULL, -1);
        if (fd == -ECANCELED)
            break;
        if (fd < 0) {
            /* Out of descriptors (or memory): wait for connections to
             * end rather than spin; keep serving the ones we have. */
            fprintf(stderr, "co_echo_server: accept: %s\n", weft_strerror(fd));
            if (weft_co_sleep(100) == -ECANCELED)
                break;
            continue;
        }
        c = calloc(1, sizeof *c);
        rc = c ? weft_co_spawn(&c->co, talk, c, NULL) : -ENOMEM;
        if (rc < 0) {
            fprintf(stderr, "co_echo_server: spawn: %s\n", weft_strerror(rc));
            close(fd);
            free(c);
            continue;
        }
        c->fd = fd;
        c->next = srv.conns;
        if (srv.conns)
            srv.conns->prev = c;
        srv.conns = c;
        srv.served++;
    }
    return 0;
}

/* Stop: cancel the acceptor and every connection; each closes its own
 * socket as it ends. (Cancelling only marks and wakes: nothing runs
 * here, so walking the list is safe.) */
static void server_stop(void)
{
    weft_co_cancel(srv.acceptor);
    for (struct conn *c = srv.conns; c; c = c->next)
        weft_co_cancel(c->co);
}

/* Serve mode: wait for SIGINT or SIGTERM on the subscription's
 * descriptor, then stop the server. */
static int watch_signals(void *arg)
{
    weft_signals *sg = arg;
    weft_signal_info info;
    int rc;

    rc = weft_co_wait_fd(weft_signals_fd(sg), WEFT_CO_READ, -1);
    if (rc > 0 && weft_signals_read(sg, &info, 0) == 0)
        printf("got SIG%s: stopping\n", weft_signal_name(info.signo));
    server_stop();
    return 0;
}

/* ---- the self-test clients ------------------------------------------------
 */

static int client(void *arg)
{
    int id = (int)(intptr_t)arg, fd, rc, len;
    char msg[64], want[64], got[64];

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = weft_co_connect(fd, (struct sockaddr *)&srv.addr, sizeof srv.addr,
                         IO_TIMEOUT_MS);
    for (int line = 0; rc == 0 && line < LINES; line++) {
        len = snprintf(msg, sizeof msg, "hello %d from client %d\n", line, id);
        upper(want, msg, (size_t)len);
        rc = send_all(fd, msg, (size_t)len, IO_TIMEOUT_MS);
        /* The reply may come in pieces: read until all of it is here. */
        for (int have = 0; rc == 0 && have < len;) {
            ssize_t n = weft_co_recv(fd, got + have, (size_t)(len - have), 0,
                                     IO_TIMEOUT_MS);
            if (n <= 0)
                rc = n < 0 ? (int)n : -ECONNRESET;
            else
                have += (int)n;
        }
        if (rc == 0 && memcmp(got, want, (size_t)len) != 0)
            rc = -EPROTO;
    }
    close(fd);
    return rc;
}

/* The most clients the open-files limit allows, raising the soft limit
 * towards the hard one if needed. */
static int fit_clients(int n)
{
    rlim_t need = (rlim_t)n * 2 + SPARE_FDS;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return n;
    if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= need)
        return n;
    n = rl.rlim_cur > 2 * SPARE_FDS ? (int)((rl.rlim_cur - SPARE_FDS) / 2) : 1;
    printf("open-files limit %llu: capping the self-test at %d clients\n",
           (unsigned long long)rl.rlim_cur, n);
    return n;
}

struct options {
    int port;
    int clients; /* 0: serve until a signal */
};

static int run(void *arg)
{
    const struct options *o = arg;
    weft_co **cs = NULL, *watcher = NULL;
    weft_signals *sg = NULL;
    int sigs[] = {SIGINT, SIGTERM}, rc, failed = 0, first = 0, i, r;
    int64_t t0;

    rc = weft_co_spawn(&srv.acceptor, acceptor, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "co_echo_server: spawn: %s\n", weft_strerror(rc));
        return 1;
    }
    if (o->clients == 0) {
        rc = weft_signals_open(&sg, sigs, 2);
        if (rc == 0)
            rc = weft_co_spawn(&watcher, watch_signals, sg, NULL);
        if (rc < 0) {
            fprintf(stderr, "co_echo_server: signals: %s\n", weft_strerror(rc));
            server_stop();
            weft_co_release(srv.acceptor);
            weft_signals_close(sg);
            return 1;
        }
        printf("serving; Ctrl-C (SIGINT) or SIGTERM stops\n");
        weft_co_join(watcher, -1, NULL);
        weft_co_join(srv.acceptor, -1, NULL);
        weft_co_release(watcher);
        weft_co_release(srv.acceptor);
        weft_signals_close(sg);
        /* The connections end as their cancels reach them; weft_co_run
         * returns after the last. */
        printf("served %ld connection%s\n", srv.served,
               srv.served == 1 ? "" : "s");
        return 0;
    }

    cs = calloc((size_t)o->clients, sizeof *cs);
    if (!cs) {
        server_stop();
        weft_co_release(srv.acceptor);
        return 1;
    }
    t0 = weft_now_ns();
    for (i = 0; i < o->clients; i++) {
        rc = weft_co_spawn(&cs[i], client, (void *)(intptr_t)i, NULL);
        if (rc < 0) {
            fprintf(stderr, "co_echo_server: client %d: spawn: %s\n", i,
                    weft_strerror(rc));
            failed++;
        }
    }
    for (i = 0; i < o->clients; i++) {
        if (!cs[i])
            continue;
        r = 0;
        weft_co_join(cs[i], -1, &r);
        if (r < 0 && failed++ == 0)
            first = r;
        weft_co_release(cs[i]);
    }
    printf("%d clients served by one thread in %lld ms\n", o->clients - failed,
           (long long)((weft_now_ns() - t0) / 1000000));
    if (failed)
        printf("%d clients failed, the first with: %s\n", failed,
               weft_strerror(first));
    server_stop();
    weft_co_release(srv.acceptor);
    free(cs);
    return failed ? 1 : 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0, 0};
    socklen_t len = sizeof srv.addr;
    int one = 1, result = 1, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--selftest") == 0) {
            o.clients = DEFAULT_CLIENTS;
            if (i + 1 < argc && argv[i + 1][0] != '-' &&
                parse_int(argv[++i], 1, MAX_CLIENTS, &o.clients) < 0) {
                fprintf(stderr, "co_echo_server: clients: 1..%d\n",
                        MAX_CLIENTS);
                return 2;
            }
        } else if (parse_int(argv[i], 0, 65535, &o.port) < 0) {
            fprintf(stderr, "usage: co_echo_server [PORT] [--selftest [N]]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (o.clients)
        o.clients = fit_clients(o.clients);

    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv.lfd < 0) {
        perror("co_echo_server: socket");
        return 1;
    }
    setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    srv.addr.sin_family = AF_INET;
    srv.addr.sin_port = htons((uint16_t)o.port);
    srv.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(srv.lfd, (struct sockaddr *)&srv.addr, sizeof srv.addr) < 0 ||
        listen(srv.lfd, SOMAXCONN) < 0 ||
        getsockname(srv.lfd, (struct sockaddr *)&srv.addr, &len) < 0) {
        fprintf(stderr, "co_echo_server: bind/listen 127.0.0.1:%d: %s\n",
                o.port, strerror(errno));
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(srv.addr.sin_port));

    rc = weft_co_run(run, &o, NULL, &result);
    close(srv.lfd);
    if (rc < 0) {
        fprintf(stderr, "co_echo_server: weft_co_run: %s\n", weft_strerror(rc));
        return 1;
    }
    return result;
}
