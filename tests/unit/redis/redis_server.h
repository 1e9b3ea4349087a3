/* redis_server.h - a real redis-server for the tests, started by the test
 * itself: on a free loopback port (never 6379), in a fresh temporary
 * directory, killed with the test (PR_SET_PDEATHSIG) and removed after.
 * Header-only, for tests (cmocka's asserts). */
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

#include <weft/core.h>

#define TEST_REDIS_BIN "/usr/bin/redis-server"

struct test_redis {
    pid_t pid;
    int port;
    char dir[128];
    char conf[64][128]; /* extra config lines */
    int nconf;
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
        fprintf(f,
                "bind 127.0.0.1\nport %d\ndir %s\nsave \"\"\n"
                "daemonize no\nlogfile %s/redis.log\n"
                "protected-mode no\n",
                r->port, r->dir, r->dir);
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
            if (test_redis_ping(r->port))
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
        if (test_redis_ping(r->port))
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

/* "redis://127.0.0.1:<port>/<name><query>" */
static inline void test_redis_url(const struct test_redis *r, char *buf,
                                  size_t cap, const char *name,
                                  const char *query)
{
    snprintf(buf, cap, "redis://127.0.0.1:%d/%s%s", r->port, name,
             query ? query : "");
}

#endif
