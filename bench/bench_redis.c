/* bench_redis.c - weft over Redis against the limits and against Python,
 * all through one redis-server that this benchmark starts on loopback (a
 * free port, a temporary directory, no persistence).
 *
 * Suites:
 *   Queue put + get, 16 B and 1 KiB messages: one weft Redis queue handle
 *   puts a message and gets it back, N times (a put is one script, a get
 *   one XREADGROUP with the previous message's acknowledgement pipelined
 *   in); against redis-benchmark's LPUSH and RPOP with one client and the
 *   same sizes (`-c 1 -d SIZE`; its ns per LPUSH plus ns per RPOP), the
 *   limit for one client doing one round trip per call. Target (issue 11):
 *   weft at least 0.8x the limit's rate, i.e. within 1.25x its time.
 *   Distributed pool, trivial tasks: map N trivial tasks (pipelined
 *   submits, futures) on one weft worker process; against Python RQ 1.13
 *   with one SimpleWorker (bench_redis_rq.py). Target: 10x RQ's rate.
 *
 * Run: ./build/bench/bench_redis [--quick] [--markdown FILE]
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <weft/weft.h>

#include "harness.h"

#define REDIS_SERVER    "/usr/bin/redis-server"
#define REDIS_BENCHMARK "/usr/bin/redis-benchmark"
#define RQ_PYTHON       "/usr/bin/python3"

static int port;
static char dir[64];
static pid_t server;

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        p = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return p == 6379 ? -1 : p;
}

static int start_server(void)
{
    char ports[16];

    snprintf(dir, sizeof dir, "/tmp/weft-bench-redis.XXXXXX");
    if (access(REDIS_SERVER, X_OK) != 0 || mkdtemp(dir) == NULL)
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        port = free_port();
        if (port <= 0)
            continue;
        snprintf(ports, sizeof ports, "%d", port);
        server = fork();
        if (server < 0)
            return -1;
        if (server == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            execl(REDIS_SERVER, "redis-server", "--bind", "127.0.0.1", "--port",
                  ports, "--dir", dir, "--save", "", "--appendonly", "no",
                  "--logfile", "redis.log", (char *)NULL);
            _exit(127);
        }
        char url[96];
        snprintf(url, sizeof url, "redis://127.0.0.1:%d/probe", port);
        for (int i = 0; i < 300; i++) {
            weft_queue *q;
            if (weft_redis_queue_open(&q, url, NULL) == 0) {
                weft_queue_destroy(q);
                weft_redis_queue_unlink(url);
                return 0;
            }
            if (waitpid(server, NULL, WNOHANG) == server)
                break;
            weft_sleep_ms(10);
        }
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = 0;
    }
    return -1;
}

static void stop_server(void)
{
    char cmd[128];

    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    if (dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_redis: could not remove %s\n", dir);
    }
}

/* ---- queue --------------------------------------------------------------- */

struct qctx {
    size_t size;
    int round;
};

static int64_t run_weft_queue(void *p, long n)
{
    struct qctx *c = p;
    char url[128], buf[2048], msg[2048];
    weft_queue *q;

    memset(msg, 'm', sizeof msg);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/bq%zu-%d", port, c->size,
             c->round++);
    int rc = weft_redis_queue_open(&q, url, NULL);
    if (rc < 0)
        return rc;
    /* one warm-up pair: loads the scripts */
    if (weft_queue_put(q, msg, c->size, -1) < 0 ||
        weft_queue_get(q, buf, sizeof buf, -1) < 0)
        return -EIO;
    int64_t t0 = weft_now_ns();
    for (long i = 0; i < n; i++) {
        rc = weft_queue_put(q, msg, c->size, -1);
        if (rc < 0)
            break;
        rc = weft_queue_get(q, buf, sizeof buf, -1);
        if (rc != (int)c->size) {
            rc = rc < 0 ? rc : -EIO;
            break;
        }
        rc = 0;
    }
    int64_t dt = weft_now_ns() - t0;
    weft_queue_destroy(q);
    weft_redis_queue_unlink(url);
    return rc < 0 ? rc : dt;
}

/* redis-benchmark -c 1 -t lpush,rpop --csv: ns per LPUSH + ns per RPOP. */
static int64_t run_redis_benchmark(void *p, long n)
{
    struct qctx *c = p;
    char cmd[256], line[512];
    double ns = 0;
    int seen = 0;

    snprintf(cmd, sizeof cmd,
             "%s -h 127.0.0.1 -p %d -c 1 -n %ld -d %zu -t lpush,rpop --csv",
             REDIS_BENCHMARK, port, n, c->size);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -errno;
    while (fgets(line, sizeof line, f) != NULL) {
        char name[16];
        double rps;
        if (sscanf(line, "\"%15[A-Z]\",\"%lf\"", name, &rps) == 2 && rps > 0 &&
            (strcmp(name, "LPUSH") == 0 || strcmp(name, "RPOP") == 0)) {
            ns += 1e9 / rps;
            seen++;
        }
    }
    if (pclose(f) != 0 || seen != 2)
        return -EIO;
    return (int64_t)(ns * (double)n);
}

static int queue_suite(int argc, char **argv, size_t size)
{
    char title[96], desc[160];
    struct qctx w = {size, 0}, r = {size, 0};

    snprintf(title, sizeof title, "Redis queue put + get, %zu B messages",
             size);
    snprintf(desc, sizeof desc,
             "one message put and got back by one client (redis-benchmark: "
             "one LPUSH + one RPOP, -c 1 -d %zu)",
             size);
    bench_suite *s = bench_suite_new(title, desc);
    bench_parse_args(s, argc, argv);
    bench_add_timed(s, "weft Redis queue", run_weft_queue, &w);
    if (access(REDIS_BENCHMARK, X_OK) == 0)
        bench_add_timed(s, "redis-benchmark LPUSH+RPOP", run_redis_benchmark,
                        &r);
    else
        bench_add_skipped(s, "redis-benchmark LPUSH+RPOP",
                          "redis-benchmark not installed");
    bench_set_baseline(s, "redis-benchmark LPUSH+RPOP");
    bench_check(s, "weft Redis queue", BENCH_WITHIN, 1.25, NULL,
                "weft at least 0.8x redis-benchmark's rate");
    int rc = bench_run(s, 5, 5000);
    bench_suite_free(s);
    return rc;
}

/* ---- distributed pool ---------------------------------------------------- */

static int noop(const void *arg, size_t len, weft_buf *res)
{
    return weft_buf_append(res, arg, len);
}
WEFT_REDIS_TASK(noop)

static weft_redis_pool *pool;
static pid_t worker;

static int64_t run_weft_pool(void *p, long n)
{
    int64_t *args = malloc((size_t)n * sizeof *args);
    int64_t *out = malloc((size_t)n * sizeof *out);
    if (args == NULL || out == NULL) {
        free(args);
        free(out);
        return -ENOMEM;
    }
    for (long i = 0; i < n; i++)
        args[i] = i;
    int64_t t0 = weft_now_ns();
    int rc = weft_redis_pool_map(pool, "noop", args, sizeof *args, (size_t)n,
                                 out, sizeof *out, NULL);
    int64_t dt = weft_now_ns() - t0;
    for (long i = 0; rc == 0 && i < n; i++)
        if (out[i] != i)
            rc = -EIO;
    free(args);
    free(out);
    return rc != 0 ? (rc < 0 ? rc : -EIO) : dt;
}

static int pool_suite(int argc, char **argv)
{
    char url[96], ports[16];

    snprintf(url, sizeof url, "redis://127.0.0.1:%d/bpool", port);
    worker = fork();
    if (worker < 0)
        return 1;
    if (worker == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(weft_redis_worker_run(url, NULL) < 0 ? 1 : 0);
    }
    int rc = weft_redis_pool_open(&pool, url, NULL);
    if (rc < 0) {
        fprintf(stderr, "bench_redis: pool: %s\n", weft_strerror(rc));
        kill(worker, SIGKILL);
        waitpid(worker, NULL, 0);
        return 1;
    }
    char *script = bench_path_beside(__FILE__, "bench_redis_rq.py");
    snprintf(ports, sizeof ports, "%d", port);
    const char *rq[] = {RQ_PYTHON, script, ports, NULL};
    bench_suite *s = bench_suite_new(
        "Distributed pool over Redis, trivial tasks, one worker",
        "one task submitted, run by a worker process and its result back "
        "(weft: weft_redis_pool_map; RQ: enqueue_many + SimpleWorker)");
    bench_parse_args(s, argc, argv);
    bench_add_timed(s, "weft distributed pool", run_weft_pool, NULL);
    bench_add_external(s, "Python RQ 1.13", rq);
    bench_check(s, "weft distributed pool", BENCH_FASTER, 10.0,
                "Python RQ 1.13", "weft at least 10x Python RQ");
    rc = bench_run(s, 5, 2000);
    bench_suite_free(s);
    free(script);
    weft_redis_pool_close(pool);
    kill(worker, SIGKILL);
    waitpid(worker, NULL, 0);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_suite *s = bench_suite_new("Redis", "");
            bench_parse_args(s, argc, argv); /* prints help, exits */
            bench_suite_free(s);
        }
    if (start_server() < 0) {
        bench_suite *s = bench_suite_new("weft over Redis", "-");
        bench_parse_args(s, argc, argv);
        bench_add_skipped(s, "weft Redis queue",
                          "redis-server could not be started");
        rc = bench_run(s, 1, 1);
        bench_suite_free(s);
        return rc;
    }
    rc |= queue_suite(argc, argv, 16);
    rc |= queue_suite(argc, argv, 1024);
    rc |= pool_suite(argc, argv);
    stop_server();
    return rc;
}
