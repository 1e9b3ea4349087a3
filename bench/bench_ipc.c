/* bench_ipc.c - queues and pipes, side by side.
 *
 * Suites (see bench/README.md for how contenders are run):
 *
 * 1-3. One producer process, one consumer process, messages of 8 bytes,
 *      1 KiB and 64 KiB. One operation is one message put and got.
 *        weft queue        a shared weft_queue (1 MiB ring)
 *        raw pipe          a pipe(2) carrying the same messages framed as
 *                          a 4-byte length and the bytes, one write() per
 *                          message, read through a 64 KiB buffer
 *                          (baseline)
 *        Python Queue      multiprocessing.Queue (ipc_queue.py)
 *      Targets: 8 bytes: weft at least 100x faster than Python, and faster
 *      than the raw pipe.
 * 4.   Four producers, four consumers, 8-byte messages (informational).
 * 5.   Threads: one producer thread, one consumer thread, 8-byte messages
 *      through a thread queue.
 *        weft thread queue   placement NULL
 *        Python queue.Queue  (ipc_thread_queue.py)
 *      Target: at least 50x faster than Python.
 * 6.   Pipe round trip: send 8 bytes to a child that sends them back.
 *        weft pipe           weft_conn_send / weft_conn_recv
 *        raw socketpair      write / read on a Unix stream socketpair
 *                            (baseline)
 *        Python Pipe         multiprocessing.Pipe (ipc_pipe.py)
 *      Target: weft within 1.2x of the raw socketpair.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

#include "harness.h"

struct cfg {
    size_t size; /* message bytes */
    int pairs;   /* producer/consumer processes each */
    weft_queue *q;
};

static int wait_all(pid_t *pids, int n)
{
    int i, status, rc = 0;

    for (i = 0; i < n; i++) {
        while (waitpid(pids[i], &status, 0) < 0)
            if (errno != EINTR)
                return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = -EPROTO;
    }
    return rc;
}

/* ---- weft queue across processes ------------------------------------------
 */

static int64_t run_weft_queue(void *ctx, long n)
{
    struct cfg *c = ctx;
    long per = n / c->pairs;
    pid_t pids[16];
    int64_t t0;
    int k;

    t0 = weft_now_ns();
    for (k = 0; k < 2 * c->pairs; k++) {
        pids[k] = fork();
        if (pids[k] < 0)
            return -errno;
        if (pids[k] == 0) {
            char *buf = calloc(1, c->size);
            long i;
            if (!buf)
                _exit(1);
            for (i = 0; i < per; i++) {
                /* Block as long as it takes, like Python's put and get. */
                int rc = k < c->pairs ? weft_queue_put(c->q, buf, c->size, -1)
                                      : weft_queue_get(c->q, buf, c->size, -1);
                if (rc < 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    if (wait_all(pids, 2 * c->pairs) < 0)
        return -EPROTO;
    return weft_now_ns() - t0;
}

/* ---- raw pipe ----------------------------------------------------------- */

struct reader {
    int fd;
    char buf[65536];
    size_t have, at;
};

static int fill_from(struct reader *r, size_t need)
{
    ssize_t got;

    if (r->have - r->at >= need)
        return 0;
    memmove(r->buf, r->buf + r->at, r->have - r->at);
    r->have -= r->at;
    r->at = 0;
    while (r->have < need) {
        got = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);
        if (got <= 0)
            return -1;
        r->have += (size_t)got;
    }
    return 0;
}

/* One message: its length, then its bytes (into out, which may be big). */
static int read_msg(struct reader *r, char *out, size_t cap)
{
    uint32_t len;
    size_t done, chunk;

    if (fill_from(r, 4) < 0)
        return -1;
    memcpy(&len, r->buf + r->at, 4);
    r->at += 4;
    if (len > cap)
        return -1;
    for (done = 0; done < len; done += chunk) {
        if (r->at == r->have && fill_from(r, 1) < 0)
            return -1;
        chunk = r->have - r->at;
        if (chunk > len - done)
            chunk = len - done;
        memcpy(out + done, r->buf + r->at, chunk);
        r->at += chunk;
    }
    return (int)len;
}

static int64_t run_raw_pipe(void *ctx, long n)
{
    struct cfg *c = ctx;
    int fds[2];
    pid_t pids[2];
    int64_t t0;
    int k;

    if (pipe(fds) < 0)
        return -errno;
    t0 = weft_now_ns();
    for (k = 0; k < 2; k++) {
        pids[k] = fork();
        if (pids[k] < 0)
            return -errno;
        if (pids[k] == 0) {
            char *buf = calloc(1, c->size + 4);
            long i;
            if (!buf)
                _exit(1);
            if (k == 0) {
                uint32_t len = (uint32_t)c->size;
                close(fds[0]);
                memcpy(buf, &len, 4);
                for (i = 0; i < n; i++) {
                    size_t off = 0;
                    while (off < c->size + 4) {
                        ssize_t w = write(fds[1], buf + off, c->size + 4 - off);
                        if (w < 0)
                            _exit(1);
                        off += (size_t)w;
                    }
                }
            } else {
                struct reader *r = calloc(1, sizeof *r);
                close(fds[1]);
                if (!r)
                    _exit(1);
                r->fd = fds[0];
                for (i = 0; i < n; i++)
                    if (read_msg(r, buf, c->size) != (int)c->size)
                        _exit(1);
            }
            _exit(0);
        }
    }
    close(fds[0]);
    close(fds[1]);
    if (wait_all(pids, 2) < 0)
        return -EPROTO;
    return weft_now_ns() - t0;
}

/* ---- thread queue -------------------------------------------------------- */

struct tq {
    weft_queue *q;
    long n;
};

static void *tq_consumer(void *arg)
{
    struct tq *t = arg;
    char buf[8];
    long i;

    for (i = 0; i < t->n; i++)
        if (weft_queue_get(t->q, buf, sizeof buf, -1) != 8)
            return (void *)1;
    return NULL;
}

static int64_t run_thread_queue(void *ctx, long n)
{
    struct tq t = {ctx, n};
    pthread_t tid;
    char buf[8] = {0};
    void *bad;
    int64_t t0 = weft_now_ns();
    long i;

    if (pthread_create(&tid, NULL, tq_consumer, &t) != 0)
        return -EAGAIN;
    for (i = 0; i < n; i++)
        if (weft_queue_put(t.q, buf, sizeof buf, -1) != 0)
            break;
    pthread_join(tid, &bad);
    if (i < n || bad)
        return -EPROTO;
    return weft_now_ns() - t0;
}

/* ---- pipe round trips -----------------------------------------------------
 */

static int64_t run_weft_pipe(void *ctx, long n)
{
    weft_conn *a, *b;
    char buf[8] = {0};
    int64_t t0, t;
    pid_t pid;
    long i;

    (void)ctx;
    if (weft_pipe(&a, &b, true) < 0)
        return -EMFILE;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        weft_conn_destroy(a);
        for (i = 0; i < n; i++)
            if (weft_conn_recv(b, buf, sizeof buf, -1) != 8 ||
                weft_conn_send(b, buf, 8) < 0)
                _exit(1);
        _exit(0);
    }
    weft_conn_destroy(b);
    t0 = weft_now_ns();
    for (i = 0; i < n; i++)
        if (weft_conn_send(a, buf, 8) < 0 ||
            weft_conn_recv(a, buf, sizeof buf, -1) != 8)
            break;
    t = weft_now_ns() - t0;
    weft_conn_destroy(a);
    if (wait_all(&pid, 1) < 0 || i < n)
        return -EPROTO;
    return t;
}

static int full_io(int fd, char *buf, size_t n, int writing)
{
    size_t off = 0;
    ssize_t r;

    while (off < n) {
        r = writing ? write(fd, buf + off, n - off)
                    : read(fd, buf + off, n - off);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

static int64_t run_raw_socketpair(void *ctx, long n)
{
    char buf[8] = {0};
    int64_t t0, t;
    int sv[2];
    pid_t pid;
    long i;

    (void)ctx;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(sv[0]);
        for (i = 0; i < n; i++)
            if (full_io(sv[1], buf, 8, 0) < 0 || full_io(sv[1], buf, 8, 1) < 0)
                _exit(1);
        _exit(0);
    }
    close(sv[1]);
    t0 = weft_now_ns();
    for (i = 0; i < n; i++)
        if (full_io(sv[0], buf, 8, 1) < 0 || full_io(sv[0], buf, 8, 0) < 0)
            break;
    t = weft_now_ns() - t0;
    close(sv[0]);
    if (wait_all(&pid, 1) < 0 || i < n)
        return -EPROTO;
    return t;
}

/* ---- Suites ----------------------------------------------------------------
 */

static int queue_suite(int argc, char **argv, const char *title, size_t size,
                       int pairs, long iterations, bool targets)
{
    weft_queue_opts o = {.max_bytes = 1 << 20};
    char sz[32], desc[160];
    const char *py[4] = {"python3", NULL, sz, NULL};
    struct cfg c = {size, pairs, NULL};
    bench_suite *s;
    int rc;

    if (weft_queue_create(&c.q, WEFT_SHARED, &o) < 0)
        return 1;
    snprintf(sz, sizeof sz, "%zu", size);
    snprintf(desc, sizeof desc,
             "one %zu-byte message put by a producer process and got by a "
             "consumer process (%d of each); MB/s = ops/s x %zu bytes",
             size, pairs, size);
    s = bench_suite_new(title, desc);
    bench_parse_args(s, argc, argv);
    py[1] = bench_path_beside(__FILE__, "ipc_queue.py");
    bench_add_timed(s, "weft queue", run_weft_queue, &c);
    if (pairs == 1)
        bench_add_timed(s, "raw pipe", run_raw_pipe, &c);
    bench_add_external(s, "Python Queue", py);
    bench_set_baseline(s, pairs == 1 ? "raw pipe" : "weft queue");
    if (targets) {
        bench_check(s, "weft queue", BENCH_FASTER, 100.0, "Python Queue",
                    "weft queue at least 100x faster than Python's");
        bench_check(s, "weft queue", BENCH_FASTER, 1.0, "raw pipe",
                    "weft queue faster than the raw pipe");
    }
    rc = bench_run(s, 5, iterations);
    bench_suite_free(s);
    free((char *)py[1]);
    weft_queue_destroy(c.q);
    return rc;
}

int main(int argc, char **argv)
{
    const char *py_tq[3] = {"python3", NULL, NULL};
    const char *py_pipe[3] = {"python3", NULL, NULL};
    weft_queue *tq;
    bench_suite *s;
    int rc = 0;

    rc |= queue_suite(argc, argv, "Queue, 1 producer to 1 consumer, 8 bytes", 8,
                      1, 400000, true);
    rc |= queue_suite(argc, argv, "Queue, 1 producer to 1 consumer, 1 KiB",
                      1024, 1, 100000, false);
    rc |= queue_suite(argc, argv, "Queue, 1 producer to 1 consumer, 64 KiB",
                      65536, 1, 4000, false);
    rc |= queue_suite(argc, argv, "Queue, 4 producers to 4 consumers, 8 bytes",
                      8, 4, 400000, false);

    if (weft_queue_create(&tq, NULL, NULL) < 0)
        return 1;
    s = bench_suite_new("Thread queue, 1 producer to 1 consumer thread",
                        "one 8-byte message put by one thread and got by "
                        "another");
    bench_parse_args(s, argc, argv);
    py_tq[1] = bench_path_beside(__FILE__, "ipc_thread_queue.py");
    bench_add_timed(s, "weft thread queue", run_thread_queue, tq);
    bench_add_external(s, "Python queue.Queue", py_tq);
    bench_check(s, "weft thread queue", BENCH_FASTER, 50.0,
                "Python queue.Queue",
                "weft thread queue at least 50x faster than Python's");
    rc |= bench_run(s, 5, 400000);
    bench_suite_free(s);
    free((char *)py_tq[1]);
    weft_queue_destroy(tq);

    s = bench_suite_new("Pipe round trip",
                        "send 8 bytes to a child process and receive them "
                        "back");
    bench_parse_args(s, argc, argv);
    py_pipe[1] = bench_path_beside(__FILE__, "ipc_pipe.py");
    bench_add_timed(s, "weft pipe", run_weft_pipe, NULL);
    bench_add_timed(s, "raw socketpair", run_raw_socketpair, NULL);
    bench_add_external(s, "Python Pipe", py_pipe);
    bench_set_baseline(s, "raw socketpair");
    bench_check(s, "weft pipe", BENCH_WITHIN, 1.2, NULL,
                "weft pipe round trip within 1.2x of a raw socketpair");
    rc |= bench_run(s, 7, 20000);
    bench_suite_free(s);
    free((char *)py_pipe[1]);
    return rc;
}
