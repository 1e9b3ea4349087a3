/* sync_helpers.h - what the synchronization tests share: workers that are
 * threads (private placement) or forked processes (WEFT_SHARED placement)
 * behind one interface, memory both kinds can write, and a look at
 * /proc to know that a worker is asleep in a futex wait before the test
 * wakes it. Header-only, for tests.
 *
 * cmocka's asserts only work in the test's own thread and process, so
 * workers record what they saw (their return value) and the test asserts
 * it after joining them. */
#ifndef WEFT_TEST_SYNC_HELPERS_H
#define WEFT_TEST_SYNC_HELPERS_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/weft.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* A worker that hung: what workers_join returns after giving up on it. */
#define WORKER_HUNG (-100000)
#define MAX_WORKERS 64

/* Zero-filled memory shared with every child forked afterwards (and, of
 * course, with this process's threads). Never freed: tests are short. */
static inline void *shm_zalloc(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);

    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap: %s\n", strerror(errno));
        abort();
    }
    return p;
}

static inline pid_t test_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

typedef int (*worker_fn)(void *arg, int i);

struct worker_ctx {
    worker_fn fn;
    void *arg;
    int i;
    _Atomic int rc;
    _Atomic int done;
    _Atomic pid_t tid; /* kernel id, set by the worker as it starts */
};

struct workers {
    int n;
    bool procs;
    pthread_t th[MAX_WORKERS];
    pid_t pid[MAX_WORKERS];
    struct worker_ctx *ctx; /* in shared memory */
};

static void *worker_thread(void *p)
{
    struct worker_ctx *c = p;

    atomic_store(&c->tid, test_gettid());
    atomic_store(&c->rc, c->fn(c->arg, c->i));
    atomic_store(&c->done, 1);
    return NULL;
}

/* Start n workers running fn(arg, i): threads, or processes when procs. */
static inline void workers_start(struct workers *w, bool procs, int n,
                                 worker_fn fn, void *arg)
{
    int i;

    memset(w, 0, sizeof *w);
    w->n = n;
    w->procs = procs;
    w->ctx = shm_zalloc(sizeof *w->ctx * MAX_WORKERS);
    for (i = 0; i < n; i++) {
        struct worker_ctx *c = &w->ctx[i];
        c->fn = fn;
        c->arg = arg;
        c->i = i;
        if (!procs) {
            if (pthread_create(&w->th[i], NULL, worker_thread, c) != 0)
                abort();
            continue;
        }
        w->pid[i] = fork();
        if (w->pid[i] < 0)
            abort();
        if (w->pid[i] == 0) {
            worker_thread(c);
            _exit(0);
        }
    }
}

/* The worker's kernel id, once it has started. */
static inline pid_t worker_tid(struct workers *w, int i)
{
    pid_t t;

    while ((t = atomic_load(&w->ctx[i].tid)) == 0)
        usleep(1000);
    return t;
}

/* 1 if task tid is blocked in a futex system call within ms, else 0. Where
 * /proc does not tell, waits a while and answers 1. */
static inline int sleeping_in_futex(pid_t tid, int ms)
{
    int64_t end = weft_now_ms() + ms;
    char path[64], buf[64];

    snprintf(path, sizeof path, "/proc/%d/syscall", (int)tid);
    for (;;) {
        FILE *f = fopen(path, "r");
        long nr = -1;
        if (!f) {
            usleep(200 * 1000);
            return 1;
        }
        if (fgets(buf, sizeof buf, f))
            nr = strtol(buf, NULL, 10);
        fclose(f);
        if (nr == SYS_futex)
            return 1;
        if (weft_now_ms() > end)
            return 0;
        usleep(1000);
    }
}

/* Wait until worker i sleeps in a futex wait (1), or ms pass (0). */
static inline int worker_sleeping(struct workers *w, int i, int ms)
{
    return sleeping_in_futex(worker_tid(w, i), ms);
}

/* 1 if worker i has returned. */
static inline int worker_done(struct workers *w, int i)
{
    return atomic_load(&w->ctx[i].done);
}

/* SIGKILL worker i (a process) and reap it. */
static inline void worker_kill(struct workers *w, int i)
{
    kill(w->pid[i], SIGKILL);
    while (waitpid(w->pid[i], NULL, 0) < 0 && errno == EINTR)
        ;
    w->pid[i] = 0;
}

/* Join worker i within ms: its return value, or WORKER_HUNG (a hung
 * process is killed; a hung thread is left). */
static inline int workers_join(struct workers *w, int i, int ms)
{
    int64_t end = weft_now_ms() + ms;

    if (!w->procs) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(w->th[i], NULL, &ts) != 0)
            return WORKER_HUNG;
        return atomic_load(&w->ctx[i].rc);
    }
    if (w->pid[i] == 0)
        return WORKER_HUNG; /* killed */
    for (;;) {
        int st;
        pid_t r = waitpid(w->pid[i], &st, WNOHANG);
        if (r == w->pid[i]) {
            w->pid[i] = 0;
            if (!WIFEXITED(st) || !atomic_load(&w->ctx[i].done))
                return WORKER_HUNG;
            return atomic_load(&w->ctx[i].rc);
        }
        if (weft_now_ms() > end) {
            worker_kill(w, i);
            return WORKER_HUNG;
        }
        usleep(1000);
    }
}

/* Join them all within ms in total; the number that returned expect. */
static inline int workers_join_all(struct workers *w, int expect, int ms)
{
    int64_t end = weft_now_ms() + ms;
    int i, ok = 0;

    for (i = 0; i < w->n; i++) {
        int64_t left = end - weft_now_ms();
        if (w->procs && w->pid[i] == 0)
            continue;
        if (workers_join(w, i, left > 0 ? (int)left : 1) == expect)
            ok++;
    }
    return ok;
}

/* Where objects go for a test: private for threads, shared for processes. */
static inline weft_arena *placement(bool procs)
{
    return procs ? WEFT_SHARED : NULL;
}

#endif
