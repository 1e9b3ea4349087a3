/* distributed_squares.c - a map over Redis: one submitter, three worker
 * processes, and one worker killed midway. The map still completes.
 *
 * Python (RQ, or Celery):
 *     q = Queue("squares", connection=Redis(port=6400))
 *     jobs = [q.enqueue(square, x) for x in range(120)]
 *     # in other terminals, or on other hosts:  rq worker squares
 *     results = [job.latest_result() ... ]
 *
 * weft: the task is a C function registered by name (WEFT_REDIS_TASK);
 * any program that calls weft_redis_worker_run() serves the pool, on this
 * host or another; weft_redis_pool_map() submits by name and waits, with
 * the same futures and results as a local pool. A worker killed with
 * SIGKILL mid-task loses nothing: its task was not acknowledged, so
 * after the visibility timeout (1 s here) another worker claims it and
 * runs it again. Tasks may therefore run more than once: keep them
 * idempotent (docs/redis.md).
 *
 * Run: redis-server --port 6400 --save '' &
 *      ./build/examples/distributed_squares redis://127.0.0.1:6400/squares
 * Workers on other hosts (same URL, reachable Redis), and a submitter
 * without local workers:
 *      ./build/examples/distributed_squares --worker redis://HOST:6400/squares
 *      ./build/examples/distributed_squares --submit redis://HOST:6400/squares
 * Expect: "3 workers started", "killed worker <pid> midway", then
 * "120 squares, sum 568820: correct" and each worker's task count.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

#define N       120
#define WORKERS 3

/* The task: x -> x * x, with a little work so the kill lands mid-map. */
static int square(const void *arg, size_t len, weft_buf *result)
{
    int64_t x;

    if (len != sizeof x)
        return 1;
    memcpy(&x, arg, sizeof x);
    weft_sleep_ms(10);
    x *= x;
    return weft_buf_append(result, &x, sizeof x);
}
WEFT_REDIS_TASK(square)

static volatile int stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int worker(const char *url)
{
    weft_redis_worker_opts o = {.stop = &stop};
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    int n = weft_redis_worker_run(url, &o);
    if (n < 0) {
        fprintf(stderr, "worker %ld: %s\n", (long)getpid(), weft_strerror(n));
        return 1;
    }
    printf("worker %ld ran %d tasks\n", (long)getpid(), n);
    return 0;
}

struct victim {
    pid_t pid;
    int after_ms;
};

static void *killer(void *arg)
{
    struct victim *v = arg;

    weft_sleep_ms(v->after_ms);
    kill(v->pid, SIGKILL);
    printf("killed worker %ld midway\n", (long)v->pid);
    fflush(stdout);
    return NULL;
}

/* Map the squares of 0..N-1 over the pool; print and check them. */
static int submit(const char *url, pid_t victim)
{
    weft_redis_pool *pool;
    int rc = weft_redis_pool_open(&pool, url, NULL);
    if (rc < 0) {
        fprintf(stderr, "weft_redis_pool_open(%s): %s\n", url,
                weft_strerror(rc));
        return 1;
    }

    /* 120 tasks of 10 ms on 3 workers take ~400 ms: kill one at 150. */
    struct victim v = {victim, 150};
    pthread_t t;
    if (victim > 0)
        pthread_create(&t, NULL, killer, &v);

    int64_t args[N], out[N];
    weft_task_result res[N];
    for (int i = 0; i < N; i++)
        args[i] = i;
    int failed = weft_redis_pool_map(pool, "square", args, sizeof args[0], N,
                                     out, sizeof out[0], res);
    if (victim > 0)
        pthread_join(t, NULL);
    weft_redis_pool_close(pool);
    if (failed < 0) {
        fprintf(stderr, "map: %s\n", weft_strerror(failed));
        return 1;
    }

    int64_t sum = 0;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        if (res[i].error != 0 || out[i] != (int64_t)i * i)
            bad++;
        sum += out[i];
    }
    printf("%d squares, sum %lld: %s\n", N, (long long)sum,
           bad == 0 && failed == 0 ? "correct" : "WRONG");
    return bad == 0 && failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *url = "redis://127.0.0.1:6379/squares?visibility_ms=1000";
    pid_t pids[WORKERS];

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && strcmp(argv[1], "--worker") == 0)
        return worker(argv[2]);
    if (argc > 2 && strcmp(argv[1], "--submit") == 0)
        return submit(argv[2], 0);
    if (argc > 1)
        url = argv[1];

    /* Workers first, before this process has threads. */
    for (int i = 0; i < WORKERS; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[i] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            _exit(worker(url));
        }
    }
    printf("%d workers started\n", WORKERS);

    int rc = submit(url, pids[1]);
    /* the survivors stop (the killed one is a zombie until reaped here:
     * the signal reaches nobody else) */
    for (int i = 0; i < WORKERS; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < WORKERS; i++)
        waitpid(pids[i], NULL, 0);
    return rc;
}
