/* redis_server.h - a real redis-server for the tests, started by the test
 * itself: on a free loopback port (never 6379), in a fresh temporary
 * directory, killed with the test (PR_SET_PDEATHSIG) and removed after.
 * With test_redis_use_tls it serves TLS only (port 0, tls-port), with a
 * self-signed certificate made at start. Header-only, for tests
 * (cmocka's asserts). */
#ifndef WEFT_TEST_REDIS_SERVER_H
#define WEFT_TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

#include "unit/tls_helpers.h" /* test_make_cert */

#define TEST_REDIS_BIN "/usr/bin/redis-server"

struct test_redis {
    pid_t pid;
    int port;
    char dir[128];
    char conf[64][128]; /* extra config lines */
    int nconf;
    bool tls;       /* TLS only, on port (test_redis_use_tls) */
    char cert[192]; /* its certificate (PEM), which clients trust */
    char key[192];
};

static inline int test_redis_free_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port == 6379 ? -1 : port;
}

/* Is something answering on the port? */
static inline int test_redis_ping(int port)
{
    struct sockaddr_in a;
    char buf[16];
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write(fd, "PING\r\n", 6) == 6) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        /* +PONG, or -NOAUTH when a password is required: both are up;
         * -LOADING is not yet. */
        ok = n > 0 && (buf[0] == '+' || strncmp(buf, "-NOAUTH", 7) == 0);
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Is a TLS Redis answering on the port? A PING through libweft's TLS. */
static inline int test_redis_ping_tls(const struct test_redis *r)
{
    char buf[16], err[WEFT_TLS_ERR_MAX];
    weft_addr a;
    weft_tls_ctx *ctx;
    weft_tls_conn *c;
    int ok = 0, fd;

    snprintf(buf, sizeof buf, "127.0.0.1:%d", r->port);
    if (weft_addr_parse(&a, buf) < 0 ||
        weft_tls_client_ctx(&ctx, r->cert, err, sizeof err) < 0)
        return 0;
    fd = weft_connect(&a, 1000);
    if (fd >= 0 && weft_tls_connect(&c, ctx, fd, "127.0.0.1", 1000, 1000, err,
                                    sizeof err) == 0) {
        int t = weft_tls_fd(c);
        ssize_t n = -1;
        if (weft_write_all(t, "PING\r\n", 6, NULL, 1000) == 0)
            n = weft_co_read(t, buf, sizeof buf - 1, 1000);
        ok = n > 0 && (buf[0] == '+' || strncmp(buf, "-NOAUTH", 7) == 0);
        weft_tls_close(c, 0, NULL, 0);
    }
    if (fd >= 0)
        close(fd);
    weft_tls_ctx_destroy(ctx);
    return ok;
}

static inline int test_redis_up(const struct test_redis *r)
{
    return r->tls ? test_redis_ping_tls(r) : test_redis_ping(r->port);
}

/* Serve TLS only, with a new self-signed certificate for 127.0.0.1 and
 * localhost (call before start). 0, or -1 when the openssl command is
 * missing (the caller skips). */
static inline int test_redis_use_tls(struct test_redis *r)
{
    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof r->dir, "/tmp/weft-redis-test.XXXXXX");
        if (mkdtemp(r->dir) == NULL)
            return -1;
    }
    snprintf(r->cert, sizeof r->cert, "%s/cert.pem", r->dir);
    snprintf(r->key, sizeof r->key, "%s/key.pem", r->dir);
    if (test_make_cert(r->cert, r->key) < 0) {
        fprintf(stderr, "openssl command missing: no TLS Redis\n");
        return -1;
    }
    r->tls = true;
    return 0;
}

/* Add a config line ("requirepass s3cret") before start. */
static inline void test_redis_conf(struct test_redis *r, const char *line)
{
    assert_true(r->nconf < 64);
    snprintf(r->conf[r->nconf++], sizeof r->conf[0], "%s", line);
}

/* Start (or restart, on the same port and directory). 0 or -1. */
static inline int test_redis_start(struct test_redis *r)
{
    char path[192];
    FILE *f;

    if (access(TEST_REDIS_BIN, X_OK) != 0) {
        fprintf(stderr,
                "redis-server not installed (%s): run "
                "scripts/install-deps.sh\n",
                TEST_REDIS_BIN);
        return -1;
    }
    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof r->dir, "/tmp/weft-redis-test.XXXXXX");
        if (mkdtemp(r->dir) == NULL)
            return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        if (r->port <= 0 || attempt > 0)
            r->port = test_redis_free_port();
        if (r->port <= 0)
            continue;
        snprintf(path, sizeof path, "%s/redis.conf", r->dir);
        f = fopen(path, "w");
        if (f == NULL)
            return -1;
        if (r->tls)
            fprintf(f,
                    "port 0\ntls-port %d\ntls-cert-file %s\n"
                    "tls-key-file %s\ntls-auth-clients no\n",
                    r->port, r->cert, r->key);
        else
            fprintf(f, "port %d\n", r->port);
        fprintf(f,
                "bind 127.0.0.1\ndir %s\nsave \"\"\n"
                "daemonize no\nlogfile %s/redis.log\n"
                "protected-mode no\n",
                r->dir, r->dir);
        for (int i = 0; i < r->nconf; i++)
            fprintf(f, "%s\n", r->conf[i]);
        fclose(f);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            execl(TEST_REDIS_BIN, "redis-server", path, (char *)NULL);
            _exit(127);
        }
        r->pid = pid;
        for (int i = 0; i < 500; i++) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                r->pid = 0;
                break; /* port taken meanwhile? try another */
            }
            if (test_redis_up(r))
                return 0;
            weft_sleep_ms(10);
        }
        if (r->pid > 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
            r->pid = 0;
        }
    }
    return -1;
}

/* Restart on the same port (the data directory stays). */
static inline int test_redis_restart_same_port(struct test_redis *r)
{
    char path[192];

    snprintf(path, sizeof path, "%s/redis.conf", r->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(TEST_REDIS_BIN, "redis-server", path, (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 1000; i++) {
        if (test_redis_up(r))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            r->pid = 0;
            return -1;
        }
        weft_sleep_ms(10);
    }
    return -1;
}

/* SIGKILL the server (no shutdown save) and reap it. */
static inline void test_redis_kill(struct test_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* Kill it and remove its directory. */
static inline void test_redis_stop(struct test_redis *r)
{
    char cmd[192];

    test_redis_kill(r);
    if (r->dir[0] && strncmp(r->dir, "/tmp/weft-redis-test.", 21) == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", r->dir);
    }
    r->dir[0] = '\0';
}

/* "redis://127.0.0.1:<port>/<name><query>"; with TLS
 * "rediss://127.0.0.1:<port>/<name>?tls_ca=<cert>[&<query>]" */
static inline void test_redis_url(const struct test_redis *r, char *buf,
                                  size_t cap, const char *name,
                                  const char *query)
{
    int n;

    if (r->tls)
        n = snprintf(buf, cap, "rediss://127.0.0.1:%d/%s?tls_ca=%s%s%s",
                     r->port, name, r->cert, query && query[0] ? "&" : "",
                     query && query[0] ? query + 1 : "");
    else
        n = snprintf(buf, cap, "redis://127.0.0.1:%d/%s%s", r->port, name,
                     query ? query : "");
    assert_true(n > 0 && (size_t)n < cap);
}

#endif
