/* test_redis_queue.c - the Redis queue backend (weft/redis.h) against a
 * real redis-server started by the test. The same semantic cases run
 * against a local shared-memory queue and a Redis queue (parity): order
 * and sizes, the timeout convention and the non-waiting forms, bounds,
 * close reaching every consumer, joinable task_done/join, -ENOBUFS and
 * next_len, bad input. Then what only Redis has: redelivery after the
 * visibility timeout when a consumer dies between get and task_done, a
 * server restarted with appendonly, a server that is down (a clear error,
 * no hang, and reconnection), passwords, URLs, a server without the
 * needed commands, and the server's size limit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include <weft/weft.h>

#include "unit/redis/redis_server.h"

static struct test_redis srv;
static int qcount;

enum backend { LOCAL, REDIS };

/* A fresh queue of the backend. */
static weft_queue *make(enum backend b, size_t max_items, bool joinable)
{
    weft_queue_opts o = {.max_items = max_items, .joinable = joinable};
    weft_queue *q = NULL;
    char url[256], name[64];

    if (b == LOCAL) {
        assert_int_equal(weft_queue_create(&q, WEFT_SHARED, &o), 0);
        return q;
    }
    snprintf(name, sizeof name, "tq%d-%ld", ++qcount, (long)getpid());
    test_redis_url(&srv, url, sizeof url, name, "?visibility_ms=300");
    assert_int_equal(weft_redis_queue_open(&q, url, &o), 0);
    return q;
}

static void wait_ok(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int setup(void **state)
{
    memset(&srv, 0, sizeof srv);
    return test_redis_start(&srv);
}

static int teardown(void **state)
{
    test_redis_stop(&srv);
    return 0;
}

/* ---- parity cases -------------------------------------------------------- */

static void case_order(enum backend b)
{
    weft_queue *q = make(b, 0, false);
    static unsigned char big[100000], got[100000];
    size_t sizes[] = {1, 7, 100, 4096, 100000};

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 13 + 5);
    assert_int_equal(weft_queue_empty(q), 1);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(weft_queue_put(q, big, sizes[i], -1), 0);
    assert_int_equal(weft_queue_qsize(q), 5);
    assert_int_equal(weft_queue_empty(q), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(weft_queue_get(q, got, sizeof got, -1), (int)sizes[i]);
        assert_memory_equal(got, big, sizes[i]);
    }
    assert_int_equal(weft_queue_qsize(q), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void case_timeouts(enum backend b)
{
    weft_queue *q = make(b, 2, false);
    char buf[8];

    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), -EAGAIN);
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 80), -ETIMEDOUT);
    int64_t dt = weft_now_ms() - t0;
    assert_true(dt >= 75 && dt < 1500);
    /* bounded: full after two */
    assert_int_equal(weft_queue_put(q, "a", 1, 0), 0);
    assert_int_equal(weft_queue_put(q, "b", 1, 0), 0);
    assert_int_equal(weft_queue_full(q), 1);
    assert_int_equal(weft_queue_put(q, "c", 1, 0), -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_queue_put(q, "c", 1, 60), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 55 && dt < 1500);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'a');
    assert_int_equal(weft_queue_full(q), 0);
    assert_int_equal(weft_queue_put(q, "c", 1, 0), 0);
    /* a put waiting for room gets it when a consumer takes one */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        weft_sleep_ms(50);
        _exit(weft_queue_get(q, buf, sizeof buf, -1) == 1 ? 0 : 1);
    }
    assert_int_equal(weft_queue_put(q, "d", 1, 5000), 0);
    wait_ok(pid);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'c');
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'd');
    assert_int_equal(weft_queue_destroy(q), 0);
}

#define CONSUMERS 4
#define ITEMS     40

static void case_close_all(enum backend b)
{
    weft_queue *q = make(b, 0, false);
    int fds[2];
    pid_t pids[CONSUMERS];

    assert_int_equal(pipe(fds), 0);
    for (int i = 0; i < CONSUMERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            int n = 0, rc, v;
            while ((rc = weft_queue_get(q, &v, sizeof v, 10000)) > 0)
                n++;
            /* every consumer sees the end, none times out */
            if (rc != WEFT_ECLOSED)
                _exit(2);
            if (write(fds[1], &n, sizeof n) != sizeof n)
                _exit(3);
            _exit(0);
        }
    }
    weft_sleep_ms(100); /* let them block first */
    for (int v = 0; v < ITEMS; v++)
        assert_int_equal(weft_queue_put(q, &v, sizeof v, -1), 0);
    assert_int_equal(weft_queue_closed(q), 0);
    assert_int_equal(weft_queue_close(q), 0);
    assert_int_equal(weft_queue_close(q), 0); /* idempotent */
    assert_int_equal(weft_queue_closed(q), 1);
    int v = 1;
    assert_int_equal(weft_queue_put(q, &v, sizeof v, 0), WEFT_ECLOSED);
    int64_t t0 = weft_now_ms();
    for (int i = 0; i < CONSUMERS; i++)
        wait_ok(pids[i]);
    assert_true(weft_now_ms() - t0 < 5000);
    int total = 0, n;
    for (int i = 0; i < CONSUMERS; i++) {
        assert_int_equal(read(fds[0], &n, sizeof n), (ssize_t)sizeof n);
        total += n;
    }
    assert_int_equal(total, ITEMS);
    close(fds[0]);
    close(fds[1]);
    /* drained and closed: at once, for anyone */
    assert_int_equal(weft_queue_get(q, &v, sizeof v, -1), WEFT_ECLOSED);
    assert_int_equal(weft_queue_get(q, &v, sizeof v, 0), WEFT_ECLOSED);
    assert_int_equal(weft_queue_qsize(q), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void case_joinable(enum backend b)
{
    weft_queue *q = make(b, 0, true);
    char buf[16];

    assert_int_equal(weft_queue_join(q, 0), 0);
    assert_int_equal(weft_queue_task_done(q), -EOVERFLOW);
    for (int i = 0; i < 5; i++)
        assert_int_equal(weft_queue_put(q, "task", 4, -1), 0);
    assert_int_equal(weft_queue_join(q, 0), -EAGAIN);
    assert_int_equal(weft_queue_join(q, 30), -ETIMEDOUT);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 5; i++) {
            if (weft_queue_get(q, buf, sizeof buf, 5000) != 4)
                _exit(1);
            weft_sleep_ms(10);
            if (weft_queue_task_done(q) != 0)
                _exit(2);
        }
        _exit(weft_queue_task_done(q) == -EOVERFLOW ? 0 : 3);
    }
    assert_int_equal(weft_queue_join(q, 10000), 0);
    wait_ok(pid);
    assert_int_equal(weft_queue_join(q, 0), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void case_nobufs(enum backend b)
{
    weft_queue *q = make(b, 0, false);
    char small[4], big[64];

    assert_int_equal(weft_queue_put(q, "0123456789", 10, -1), 0);
    assert_int_equal(weft_queue_next_len(q, -1), 10);
    assert_int_equal(weft_queue_get(q, small, sizeof small, -1), -ENOBUFS);
    assert_int_equal(weft_queue_get(q, big, sizeof big, -1), 10);
    assert_memory_equal(big, "0123456789", 10);
    assert_int_equal(weft_queue_next_len(q, 0), -EAGAIN);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void case_bad_input(enum backend b)
{
    weft_queue *q = make(b, 0, false);
    char buf[4];

    assert_int_equal(weft_queue_put(q, "x", 0, 0), -EINVAL);
    assert_int_equal(weft_queue_put(q, NULL, 1, 0), -EINVAL);
    assert_int_equal(weft_queue_put_prio(q, 1, "x", 1, 0), -EINVAL);
    assert_int_equal(weft_queue_get(q, NULL, 4, 0), -EINVAL);
    assert_int_equal(weft_queue_task_done(q), -EINVAL);
    assert_int_equal(weft_queue_join(q, 0), -EINVAL);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(weft_queue_destroy(q), 0);
    assert_int_equal(weft_queue_destroy(NULL), 0);
}

#define PARITY(c)                                                              \
    static void test_##c##_local(void **state)                                 \
    {                                                                          \
        case_##c(LOCAL);                                                       \
    }                                                                          \
    static void test_##c##_redis(void **state)                                 \
    {                                                                          \
        case_##c(REDIS);                                                       \
    }

PARITY(order)
PARITY(timeouts)
PARITY(close_all)
PARITY(joinable)
PARITY(nobufs)
PARITY(bad_input)

/* ---- Redis only ---------------------------------------------------------- */

/* A consumer SIGKILLed between get and task_done: the message comes back
 * after the visibility timeout (300 ms here), and join still works. */
static void test_redelivery_joinable(void **state)
{
    weft_queue *q = make(REDIS, 0, true);
    char buf[16];

    assert_int_equal(weft_queue_put(q, "precious", 8, -1), 0);
    assert_int_equal(weft_queue_put(q, "second", 6, -1), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (weft_queue_get(q, buf, sizeof buf, 5000) != 8)
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    /* the second is there at once; the first after the timeout */
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 6);
    assert_memory_equal(buf, "second", 6);
    assert_int_equal(weft_queue_task_done(q), 0);
    assert_int_equal(weft_queue_join(q, 0), -EAGAIN);
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 5000), 8);
    int64_t dt = weft_now_ms() - t0;
    assert_memory_equal(buf, "precious", 8);
    assert_true(dt < 3000);
    assert_int_equal(weft_queue_task_done(q), 0);
    assert_int_equal(weft_queue_join(q, 1000), 0);
    /* delivered once more, acknowledged: never again */
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 700), -ETIMEDOUT);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* A plain queue acknowledges at the next get: a consumer that died while
 * working on a message loses it to nobody; one that came back for the
 * next has finished it. */
static void test_redelivery_plain(void **state)
{
    weft_queue *q = make(REDIS, 0, false);
    char buf[16];

    assert_int_equal(weft_queue_put(q, "one", 3, -1), 0);
    assert_int_equal(weft_queue_put(q, "two", 3, -1), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* "one" is finished when it comes back for "two" */
        if (weft_queue_get(q, buf, sizeof buf, 5000) != 3)
            _exit(1);
        if (weft_queue_get(q, buf, sizeof buf, 5000) != 3)
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 5000), 3);
    assert_memory_equal(buf, "two", 3);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 800), -ETIMEDOUT);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static long long redis_int(const char *cmd, const char *key)
{
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, cmd, key);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_ARRAY ? (long long)r->elements
                                                 : -1;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Acknowledged entries are trimmed, and consumers that hold nothing and
 * were idle 10 x visibility_ms are forgotten (gone processes do not pile
 * up in the group). */
static void test_trim_and_reap(void **state)
{
    weft_queue *q;
    char url[256], key[300], buf[8];

    test_redis_url(&srv, url, sizeof url, "reap", "?visibility_ms=40");
    snprintf(key, sizeof key, "weft:q:{reap}");
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(weft_queue_put(q, "m", 1, -1), 0);
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* a consumer of its own; it finishes its message */
            int n = weft_queue_get(q, buf, sizeof buf, 1000);
            _exit(n == 1 && weft_queue_destroy(q) == 0 ? 0 : 1);
        }
        wait_ok(pid);
    }
    assert_true(redis_int("XINFO CONSUMERS %s weft", key) >= 3);
    weft_sleep_ms(500);
    /* the next gets' claim ticks trim and reap */
    for (int i = 0; i < 17; i++)
        assert_int_equal(weft_queue_get(q, buf, sizeof buf, 1000), 1);
    weft_sleep_ms(30);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 100), -ETIMEDOUT);
    assert_int_equal(redis_int("XINFO CONSUMERS %s weft", key), 1);
    assert_true(redis_int("XLEN %s", key) <= 1);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* Threads of one process share a handle. */
struct thr_arg {
    weft_queue *q;
    int got;
};

static void *thr_consume(void *p)
{
    struct thr_arg *a = p;
    int v;
    while (weft_queue_get(a->q, &v, sizeof v, 5000) > 0)
        a->got++;
    return NULL;
}

static void test_threads(void **state)
{
    weft_queue *q = make(REDIS, 0, false);
    pthread_t t[3];
    struct thr_arg a[3];

    for (int i = 0; i < 3; i++) {
        a[i].q = q;
        a[i].got = 0;
        assert_int_equal(pthread_create(&t[i], NULL, thr_consume, &a[i]), 0);
    }
    for (int v = 0; v < 300; v++)
        assert_int_equal(weft_queue_put(q, &v, sizeof v, -1), 0);
    assert_int_equal(weft_queue_close(q), 0);
    int total = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        total += a[i].got;
    }
    assert_int_equal(total, 300);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void test_urls(void **state)
{
    weft_queue *q = (weft_queue *)1;
    const char *bad[] = {
        "",
        "http://127.0.0.1:1/x",
        "redis://127.0.0.1:1",
        "redis://127.0.0.1:1/",
        "redis://127.0.0.1:99999/x",
        "redis://127.0.0.1:0/x",
        "redis://127.0.0.1:12a/x",
        "redis://:/x",
        "redis://pass@127.0.0.1:1/x",
        "redis://127.0.0.1:1/bad name",
        "redis://127.0.0.1:1/x?nosuch=1",
        "redis://127.0.0.1:1/x?visibility_ms=abc",
        "redis://[::1/x",
        "redis://:p%zz@127.0.0.1:1/x",
        "redis://127.0.0.1:1/x?tls_ca=/etc/ssl/certs/ca.pem", /* no TLS */
        "rediss://127.0.0.1:1/x?tls_ca=%zz",
        "rediss://127.0.0.1:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(weft_redis_queue_open(&q, bad[i], NULL), -EINVAL);
        assert_null(q);
    }
    assert_int_equal(weft_redis_queue_open(&q, NULL, NULL), -EINVAL);
    assert_int_equal(weft_redis_queue_open(NULL, "redis://h/x", NULL), -EINVAL);
    /* rediss:// is taken (tests/unit/redis/test_redis_tls.c): nothing
     * listens on port 1 */
    assert_int_equal(weft_redis_queue_open(&q, "rediss://127.0.0.1:1/x", NULL),
                     -ECONNREFUSED);
    weft_queue_opts lifo = {.kind = WEFT_QUEUE_LIFO};
    char url[256];
    test_redis_url(&srv, url, sizeof url, "lifo", NULL);
    assert_int_equal(weft_redis_queue_open(&q, url, &lifo), -EINVAL);
    /* options and a database are taken */
    test_redis_url(&srv, url, sizeof url, "opts",
                   "?db=2&connect_timeout_ms=500&visibility_ms=1000");
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    assert_int_equal(weft_queue_put(q, "x", 1, 0), 0);
    assert_int_equal(weft_queue_qsize(q), 1);
    assert_int_equal(weft_queue_destroy(q), 0);
    assert_int_equal(weft_redis_queue_unlink(url), 0);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    assert_int_equal(weft_queue_qsize(q), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* Nothing listening: a clear error at once, no hang. */
static void test_down(void **state)
{
    weft_queue *q = NULL;
    char url[256];
    struct test_redis r;

    memset(&r, 0, sizeof r);
    assert_int_equal(test_redis_start(&r), 0);
    test_redis_url(&r, url, sizeof url, "down", "?connect_timeout_ms=1000");
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    assert_int_equal(weft_queue_put(q, "a", 1, -1), 0);
    /* a consumer waiting forever when the server dies returns at once */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char buf[4];
        (void)weft_queue_get(q, buf, sizeof buf, -1); /* "a" */
        int rc = weft_queue_get(q, buf, sizeof buf, -1);
        _exit(rc == -ECONNRESET || rc == -ECONNREFUSED ? 0 : 1);
    }
    weft_sleep_ms(200);
    test_redis_kill(&r);
    int64_t t0 = weft_now_ms();
    wait_ok(pid);
    assert_true(weft_now_ms() - t0 < 2000);
    char buf[4];
    t0 = weft_now_ms();
    int rc = weft_queue_put(q, "b", 1, -1);
    assert_true(rc == -ECONNREFUSED || rc == -ECONNRESET);
    assert_int_equal(weft_queue_put(q, "b", 1, -1), -ECONNREFUSED);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, -1), -ECONNREFUSED);
    assert_int_equal(weft_queue_qsize(q), -ECONNREFUSED);
    assert_true(weft_now_ms() - t0 < 2000);
    weft_queue *q2 = NULL;
    assert_int_equal(weft_redis_queue_open(&q2, url, NULL), -ECONNREFUSED);
    assert_null(q2);
    /* back: the same handle works again (no persistence here: empty) */
    assert_int_equal(test_redis_restart_same_port(&r), 0);
    assert_int_equal(weft_queue_put(q, "c", 1, -1), 0);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 2000), 1);
    assert_int_equal(buf[0], 'c');
    assert_int_equal(weft_queue_destroy(q), 0);
    test_redis_stop(&r);
}

/* A server that accepts and never answers (hung, or not Redis at all):
 * -ETIMEDOUT after connect_timeout_ms, no hang. */
static void test_hung_server(void **state)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    weft_queue *q = NULL;
    char url[128];

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/x?connect_timeout_ms=200",
             ntohs(a.sin_port));
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), -ETIMEDOUT);
    int64_t dt = weft_now_ms() - t0;
    assert_true(dt >= 150 && dt < 2000);
    assert_null(q);
    close(fd);
}

/* appendonly with fsync always: a put that returned 0 survives a crash
 * of the server (SIGKILL) and a restart, and so does a message got and
 * not yet done (it comes back after the visibility timeout). */
static void test_restart_persistent(void **state)
{
    struct test_redis r;
    weft_queue *q = NULL;
    weft_queue_opts o = {.joinable = true};
    char url[256];
    int v;

    memset(&r, 0, sizeof r);
    test_redis_conf(&r, "appendonly yes");
    test_redis_conf(&r, "appendfsync always");
    assert_int_equal(test_redis_start(&r), 0);
    test_redis_url(&r, url, sizeof url, "persist", "?visibility_ms=300");
    assert_int_equal(weft_redis_queue_open(&q, url, &o), 0);
    for (v = 0; v < 100; v++)
        assert_int_equal(weft_queue_put(q, &v, sizeof v, -1), 0);
    assert_int_equal(weft_queue_get(q, &v, sizeof v, -1), (int)sizeof v);
    assert_int_equal(v, 0);
    assert_int_equal(weft_queue_task_done(q), 0);
    assert_int_equal(weft_queue_get(q, &v, sizeof v, -1), (int)sizeof v);
    assert_int_equal(v, 1); /* got, not done: pending when it crashes */
    test_redis_kill(&r);
    assert_int_equal(test_redis_restart_same_port(&r), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
    assert_int_equal(weft_redis_queue_open(&q, url, &o), 0);
    int seen[100] = {0};
    for (int i = 0; i < 99; i++) {
        assert_int_equal(weft_queue_get(q, &v, sizeof v, 3000), (int)sizeof v);
        assert_true(v >= 1 && v < 100);
        seen[v]++;
        assert_int_equal(weft_queue_task_done(q), 0);
    }
    for (int i = 1; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(weft_queue_join(q, 1000), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
    test_redis_stop(&r);
}

static void test_password(void **state)
{
    struct test_redis r;
    weft_queue *q = NULL;
    char url[256];

    memset(&r, 0, sizeof r);
    test_redis_conf(&r, "requirepass s3cr:et");
    assert_int_equal(test_redis_start(&r), 0);
    test_redis_url(&r, url, sizeof url, "pw", NULL);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), -EACCES);
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d/pw", r.port);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), -EACCES);
    snprintf(url, sizeof url, "redis://nobody:s3cr:et@127.0.0.1:%d/pw", r.port);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), -EACCES);
    snprintf(url, sizeof url, "redis://:s3cr%%3aet@127.0.0.1:%d/pw", r.port);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    assert_int_equal(weft_queue_put(q, "x", 1, 0), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
    snprintf(url, sizeof url, "redis://default:s3cr:et@127.0.0.1:%d/pw",
             r.port);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    assert_int_equal(weft_queue_qsize(q), 1);
    assert_int_equal(weft_queue_destroy(q), 0);
    test_redis_stop(&r);
}

/* A server without XAUTOCLAIM (as before 6.2), and one with a 1 MiB
 * bulk limit. */
static void test_old_server_and_limits(void **state)
{
    struct test_redis r;
    weft_queue *q = NULL;
    char url[256];

    memset(&r, 0, sizeof r);
    test_redis_conf(&r, "rename-command XAUTOCLAIM \"\"");
    assert_int_equal(test_redis_start(&r), 0);
    test_redis_url(&r, url, sizeof url, "old", NULL);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), -EOPNOTSUPP);
    test_redis_stop(&r);

    memset(&r, 0, sizeof r);
    test_redis_conf(&r, "proto-max-bulk-len 1mb");
    assert_int_equal(test_redis_start(&r), 0);
    test_redis_url(&r, url, sizeof url, "big", NULL);
    assert_int_equal(weft_redis_queue_open(&q, url, NULL), 0);
    size_t n = 2u << 20;
    char *big = calloc(1, n);
    assert_non_null(big);
    assert_int_equal(weft_queue_put(q, big, n, 0), -EMSGSIZE);
    assert_int_equal(weft_queue_put(q, big, 1000, 0), 0);
    free(big);
    assert_int_equal(weft_queue_destroy(q), 0);
    /* the same limit for a pool's arguments */
    weft_redis_pool *p;
    weft_future *f = NULL;
    assert_int_equal(weft_redis_pool_open(&p, url, NULL), 0);
    big = calloc(1, n);
    assert_non_null(big);
    assert_int_equal(weft_redis_pool_submit(p, "t", big, n, &f), -EMSGSIZE);
    assert_null(f);
    free(big);
    assert_int_equal(weft_redis_pool_close(p), 0);
    weft_queue_opts o = {.max_msg = 10};
    assert_int_equal(weft_redis_queue_open(&q, url, &o), 0);
    assert_int_equal(weft_queue_put(q, "01234567890", 11, 0), -EMSGSIZE);
    assert_int_equal(weft_queue_destroy(q), 0);
    test_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_local),
        cmocka_unit_test(test_order_redis),
        cmocka_unit_test(test_timeouts_local),
        cmocka_unit_test(test_timeouts_redis),
        cmocka_unit_test(test_close_all_local),
        cmocka_unit_test(test_close_all_redis),
        cmocka_unit_test(test_joinable_local),
        cmocka_unit_test(test_joinable_redis),
        cmocka_unit_test(test_nobufs_local),
        cmocka_unit_test(test_nobufs_redis),
        cmocka_unit_test(test_bad_input_local),
        cmocka_unit_test(test_bad_input_redis),
        cmocka_unit_test(test_redelivery_joinable),
        cmocka_unit_test(test_redelivery_plain),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_trim_and_reap),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_down),
        cmocka_unit_test(test_hung_server),
        cmocka_unit_test(test_restart_persistent),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_old_server_and_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
