/* bench_co.c - coroutines: switch time, spawn + join, and resident memory
 * per idle coroutine, side by side with ucontext, threads, greenlet and
 * gevent.
 *
 * The scheduler is per thread and weft_co_run cannot nest, so every weft
 * contender runs its own weft_co_run inside the contender function, once
 * per round, and times only the operations inside it (bench_add_timed):
 * creating the scheduler and its epoll set stays out of the figure. The
 * other contenders time themselves the same way (their setup - a stack, a
 * context - is also outside).
 *
 * 1. Switch time: two contexts hand the thread to each other; one
 *    operation is one switch (a round trip is two). The partner counts
 *    its turns; each contender checks the count.
 *      bare register swap     the floor: a dozen instructions written
 *                             below (x86-64 only), saving the callee-saved
 *                             registers and rsp, nothing else
 *      weft_co_switch         two coroutines switching directly
 *      weft_co_yield          two coroutines yielding to each other: each
 *                             handoff goes through the scheduler's loop
 *                             (two context switches and the run queue)
 *      swapcontext            two ucontexts (glibc saves the signal mask
 *                             with a system call on every swap)
 *      Python greenlet        greenlet.switch between two (co_gevent.py)
 *    Baseline: the bare swap (swapcontext where there is none). Targets:
 *    weft_co_switch at least 20x faster than swapcontext, and within
 *    1.3x of the bare swap.
 *
 * 2. Spawn + join of a trivial coroutine (it returns 0; the joiner
 *    checks it), one at a time:
 *      weft spawn+join            weft_co_spawn, weft_co_join, release
 *      pthread_create+join        a thread per operation
 *      Python gevent spawn+join   gevent.spawn(f).join() (co_gevent.py)
 *    Baseline: weft. Target: weft at least 100x faster than gevent.
 *
 * 3. Resident memory per idle coroutine, default stack: spawn 10,000
 *    coroutines that each sleep, let them all start, and divide the
 *    growth of the resident set (/proc/self/statm) by their number. Not a
 *    time, so not a harness suite: its own small table in the same style,
 *    a few rounds (a fresh scheduler each), the median, and a PASS/MISS
 *    line. Target: at most 8 KiB per coroutine.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <weft/co.h>
#include <weft/core.h>

#include "harness.h"

extern char **environ;

#define STACK_SIZE    (64 * 1024) /* for the ucontext and bare contexts */
#define IDLE_COROS    10000       /* suite 3 */
#define IDLE_ROUNDS   5
#define MEM_TARGET_KB 8.0

/* The time for n switches when 2 * rounds were timed (n odd: one more). */
static int64_t per_n(int64_t ns, long n, long rounds)
{
    return (int64_t)((double)ns * (double)n / (double)(2 * rounds));
}

/* ---- 1. Switch time -------------------------------------------------------
 */

/* The floor: save the callee-saved registers (rbp, rbx, r12-r15) on the
 * current stack, store rsp in *from, load `to` as rsp, pop the other
 * context's registers and return into it. No floating-point control
 * state, no bookkeeping: what any switch must do at least.
 *     void bench_bare_swap(void **from, void *to)   rdi = from, rsi = to */
#ifdef __x86_64__
void bench_bare_swap(void **from, void *to);
__asm__(".text\n"
        ".p2align 4\n"
        ".type bench_bare_swap, @function\n"
        "bench_bare_swap:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size bench_bare_swap, .-bench_bare_swap\n");

struct bare_ctx {
    void *main_sp, *co_sp;
    long turns;
    char *stack;
};

static struct bare_ctx bare;

/* The other context: count a turn, switch back, forever. */
static void bare_entry(void)
{
    for (;;) {
        bare.turns++;
        bench_bare_swap(&bare.co_sp, bare.main_sp);
    }
}

/* A fresh frame at the top of the stack for bench_bare_swap to "return"
 * into bare_entry: six zeroed registers, bare_entry's address, and a zero
 * return address above it, so that bare_entry starts with rsp as after a
 * call (16-byte aligned plus 8). */
static void bare_make(void)
{
    uintptr_t top = ((uintptr_t)bare.stack + STACK_SIZE) & ~(uintptr_t)15;
    void **sp = (void **)(top - 64);

    memset(sp, 0, 64);
    sp[6] = (void *)(uintptr_t)bare_entry;
    bare.co_sp = sp;
    bare.turns = 0;
}

static int64_t run_bare(void *ctx, long n)
{
    long rounds = (n + 1) / 2, i;
    int64_t t0, t1;

    (void)ctx;
    bare_make();
    t0 = weft_now_ns();
    for (i = 0; i < rounds; i++)
        bench_bare_swap(&bare.main_sp, bare.co_sp);
    t1 = weft_now_ns();
    if (bare.turns != rounds)
        return -EPROTO;
    return per_n(t1 - t0, n, rounds);
}
#endif

/* ucontext: the same ping-pong with swapcontext. */
static struct {
    ucontext_t main_uc, co_uc;
    long turns;
    char *stack;
} uc;

static void uc_entry(void)
{
    for (;;) {
        uc.turns++;
        swapcontext(&uc.co_uc, &uc.main_uc);
    }
}

static int64_t run_swapcontext(void *ctx, long n)
{
    long rounds = (n + 1) / 2, i;
    int64_t t0, t1;

    (void)ctx;
    if (getcontext(&uc.co_uc) < 0)
        return -errno;
    uc.co_uc.uc_stack.ss_sp = uc.stack;
    uc.co_uc.uc_stack.ss_size = STACK_SIZE;
    uc.co_uc.uc_link = NULL;
    makecontext(&uc.co_uc, uc_entry, 0);
    uc.turns = 0;
    t0 = weft_now_ns();
    for (i = 0; i < rounds; i++)
        if (swapcontext(&uc.main_uc, &uc.co_uc) < 0)
            return -errno;
    t1 = weft_now_ns();
    if (uc.turns != rounds)
        return -EPROTO;
    return per_n(t1 - t0, n, rounds);
}

/* weft: the first coroutine and a partner, switching or yielding. */
struct pingpong {
    long n, rounds;
    bool yield; /* weft_co_yield instead of weft_co_switch */
    bool stop;
    weft_co *main;
    long turns;
    int err;
    int64_t ns;
};

static int partner(void *arg)
{
    struct pingpong *p = arg;
    int rc;

    while (!p->stop) {
        p->turns++;
        rc = p->yield ? weft_co_yield() : weft_co_switch(p->main, 0, NULL);
        if (rc < 0) {
            p->err = rc;
            break;
        }
    }
    return 0;
}

static int pingpong_main(void *arg)
{
    struct pingpong *p = arg;
    weft_co *other;
    int64_t t0, t1;
    long i;
    int rc;

    p->main = weft_co_self();
    rc = weft_co_spawn(&other, partner, p, NULL);
    if (rc < 0)
        return rc;
    /* Start the partner, outside the timing: it takes its first turn and
     * hands the thread back. */
    rc = p->yield ? weft_co_yield() : weft_co_switch(other, 0, NULL);
    p->turns = 0;
    t0 = weft_now_ns();
    for (i = 0; rc == 0 && i < p->rounds; i++)
        rc = p->yield ? weft_co_yield() : weft_co_switch(other, 0, NULL);
    t1 = weft_now_ns();
    p->ns = t1 - t0;
    p->stop = true; /* its next turn ends it */
    if (p->yield)
        weft_co_yield();
    else
        weft_co_switch(other, 0, NULL);
    weft_co_join(other, -1, NULL);
    weft_co_release(other);
    return rc;
}

static int64_t run_weft_pingpong(void *ctx, long n)
{
    struct pingpong p = {.n = n, .rounds = (n + 1) / 2};
    int rc, result = 0;

    p.yield = ctx != NULL;
    rc = weft_co_run(pingpong_main, &p, NULL, &result);
    if (rc < 0)
        return rc;
    if (result < 0)
        return result;
    if (p.err < 0)
        return p.err;
    /* One turn per round trip; the partner's last wake-up, which sees
     * stop, is not a turn. */
    if (p.turns != p.rounds)
        return -EPROTO;
    return per_n(p.ns, n, p.rounds);
}

/* ---- 2. Spawn + join ------------------------------------------------------
 */

static int trivial(void *arg)
{
    (void)arg;
    return 0;
}

struct spawn_ctx {
    long n;
    int64_t ns;
};

static int spawn_main(void *arg)
{
    struct spawn_ctx *s = arg;
    int64_t t0 = weft_now_ns();
    weft_co *c;
    int rc, r;

    for (long i = 0; i < s->n; i++) {
        rc = weft_co_spawn(&c, trivial, NULL, NULL);
        if (rc < 0)
            return rc;
        r = -1;
        rc = weft_co_join(c, -1, &r);
        weft_co_release(c);
        if (rc < 0)
            return rc;
        if (r != 0)
            return -EPROTO;
    }
    s->ns = weft_now_ns() - t0;
    return 0;
}

static int64_t run_weft_spawn(void *ctx, long n)
{
    struct spawn_ctx s = {n, 0};
    int rc, result = 0;

    (void)ctx;
    rc = weft_co_run(spawn_main, &s, NULL, &result);
    if (rc < 0)
        return rc;
    return result < 0 ? result : s.ns;
}

static void *trivial_thread(void *arg)
{
    (void)arg;
    return NULL;
}

static int64_t run_pthread(void *ctx, long n)
{
    int64_t t0 = weft_now_ns();
    pthread_t t;
    void *r;
    int rc;

    (void)ctx;
    for (long i = 0; i < n; i++) {
        rc = pthread_create(&t, NULL, trivial_thread, NULL);
        if (rc != 0)
            return -rc;
        r = &r;
        rc = pthread_join(t, &r);
        if (rc != 0)
            return -rc;
        if (r != NULL)
            return -EPROTO;
    }
    return weft_now_ns() - t0;
}

/* ---- 3. Memory per idle coroutine -----------------------------------------
 */

/* Resident pages now (the second field of /proc/self/statm), or -1. */
static long resident_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size, rss = -1;

    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2)
            rss = -1;
        fclose(f);
    }
    return rss;
}

static int idle(void *arg)
{
    (void)arg;
    weft_co_sleep(600000); /* until cancelled */
    return 0;
}

struct idle_ctx {
    int n;
    weft_co **cs;
    double kib; /* per coroutine */
};

static int idle_main(void *arg)
{
    struct idle_ctx *m = arg;
    long before, after;
    int rc = 0, i;

    before = resident_pages();
    for (i = 0; i < m->n && rc == 0; i++)
        rc = weft_co_spawn(&m->cs[i], idle, NULL, NULL);
    /* Everyone runs once - up to its sleep - before we go on. */
    weft_co_yield();
    after = resident_pages();
    m->kib = (double)(after - before) * (double)sysconf(_SC_PAGESIZE) / 1024.0 /
             m->n;
    for (int j = 0; j < i; j++)
        weft_co_cancel(m->cs[j]);
    weft_co_join_all(m->cs, (size_t)i, -1);
    for (int j = 0; j < i; j++)
        weft_co_release(m->cs[j]);
    if (before < 0 || after < 0)
        return -EIO;
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");

    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static void mem_report(FILE *f, const char *argv0, int n, int rounds,
                       const double *kib, double load0, double load1,
                       bool quick)
{
    double med = kib[rounds / 2];

    if (rounds % 2 == 0)
        med = (kib[rounds / 2 - 1] + kib[rounds / 2]) / 2;
    fprintf(f, "## Coroutine memory, idle coroutines\n\n");
    fprintf(f,
            "One measurement: %d coroutines spawned with the default stack "
            "(%u KiB reserved each) and left asleep; the growth of the "
            "resident set (/proc/self/statm) divided by their number. %d "
            "rounds, each with a fresh scheduler; figures are the median "
            "(and extremes) of the rounds. Load average %.2f before, %.2f "
            "after.\n\n",
            n, WEFT_CO_STACK_DEFAULT / 1024, rounds, load0, load1);
    fprintf(f, "Command: `%s`%s\n\n", argv0,
            quick ? " (from a --quick run)" : "");
    fprintf(f, "| contender | median KiB/coroutine | min KiB | max KiB | "
               "coroutines |\n");
    fprintf(f, "|:--|--:|--:|--:|--:|\n");
    fprintf(f, "| weft idle coroutine | %.2f | %.2f | %.2f | %d |\n", med,
            kib[0], kib[rounds - 1], n);
    fprintf(f, "\nTargets:\n\n");
    fprintf(f,
            "- %s at most %.0f KiB resident per idle coroutine (default "
            "stack): weft idle coroutine = %.2f KiB (limit %.2f KiB)\n\n",
            med <= MEM_TARGET_KB ? "PASS" : "MISS", MEM_TARGET_KB, med,
            MEM_TARGET_KB);
}

/* The harness has no suite for a quantity other than time, so this part
 * reads the two options that concern it itself (the harness has already
 * rejected bad ones): --quick and --markdown FILE. */
static int memory_section(int argc, char **argv)
{
    const char *markdown = NULL;
    bool quick = false;
    int n, rounds, r, rc = 0, result = 0;
    double kib[IDLE_ROUNDS], load0, load1;
    struct idle_ctx m;
    FILE *md;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--markdown") == 0 && i + 1 < argc)
            markdown = argv[++i];
        else if (strncmp(argv[i], "--markdown=", 11) == 0)
            markdown = argv[i] + 11;
    }
    n = quick ? IDLE_COROS / 10 : IDLE_COROS;
    rounds = quick ? 3 : IDLE_ROUNDS;
    m.n = n;
    m.cs = calloc((size_t)n, sizeof *m.cs);
    if (!m.cs) {
        fprintf(stderr, "bench_co: out of memory\n");
        return 1;
    }
    load0 = load_average();
    for (r = 0; r < rounds; r++) {
#ifdef __GLIBC__
        malloc_trim(0); /* freed handles must not be counted as free */
#endif
        rc = weft_co_run(idle_main, &m, NULL, &result);
        if (rc == 0)
            rc = result;
        if (rc < 0) {
            fprintf(stderr, "bench_co: idle coroutines: %s\n",
                    weft_strerror(rc));
            free(m.cs);
            return 1;
        }
        kib[r] = m.kib;
    }
    load1 = load_average();
    free(m.cs);
    qsort(kib, (size_t)rounds, sizeof *kib, cmp_double);
    mem_report(stdout, argv[0], n, rounds, kib, load0, load1, quick);
    fflush(stdout);
    if (markdown) {
        md = fopen(markdown, "a");
        if (!md) {
            fprintf(stderr, "bench_co: %s: %s\n", markdown, strerror(errno));
            return 1;
        }
        mem_report(md, argv[0], n, rounds, kib, load0, load1, quick);
        if (fclose(md) != 0)
            return 1;
    }
    return 0;
}

/* ---- Suites ----------------------------------------------------------------
 */

/* The first of `python3` and Debian's /usr/bin/python3 that can import
 * gevent (a python3 from pyenv, first on PATH, may lack it), or NULL. */
static const char *python_with_gevent(void)
{
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    posix_spawn_file_actions_t fa;
    int status;
    pid_t pid;

    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        char *argv[] = {(char *)cands[i], "-c", "import gevent", NULL};

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
                                         O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
                                         O_WRONLY, 0);
        if (posix_spawnp(&pid, cands[i], &fa, NULL, argv, environ) != 0) {
            posix_spawn_file_actions_destroy(&fa);
            continue;
        }
        posix_spawn_file_actions_destroy(&fa);
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                break;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            return cands[i];
    }
    return NULL;
}

#define NO_GEVENT                                                              \
    "gevent not importable by python3 or /usr/bin/python3 "                    \
    "(apt-get install python3-gevent)"

static int switch_suite(int argc, char **argv, const char *py, char *script)
{
    const char *pyargv[] = {py, script, "switch", NULL};
    bench_suite *s;
    int rc;

    s = bench_suite_new("Coroutine switch time",
                        "one switch from one context to another (a "
                        "ping-pong: a round trip is two switches)");
    bench_parse_args(s, argc, argv);
#ifdef __x86_64__
    bench_add_timed(s, "bare register swap", run_bare, NULL);
#else
    bench_add_skipped(s, "bare register swap", "hand-written for x86-64 only");
#endif
    bench_add_timed(s, "weft_co_switch", run_weft_pingpong, NULL);
    bench_add_timed(s, "weft_co_yield", run_weft_pingpong, (void *)1);
    bench_add_timed(s, "swapcontext", run_swapcontext, NULL);
    if (py)
        bench_add_external(s, "Python greenlet switch", pyargv);
    else
        bench_add_skipped(s, "Python greenlet switch", NO_GEVENT);
#ifdef __x86_64__
    bench_set_baseline(s, "bare register swap");
#else
    bench_set_baseline(s, "swapcontext");
#endif
    bench_check(s, "weft_co_switch", BENCH_FASTER, 20.0, "swapcontext",
                "weft_co_switch at least 20x faster than swapcontext");
    bench_check(s, "weft_co_switch", BENCH_WITHIN, 1.3, "bare register swap",
                "weft_co_switch within 1.3x of the bare register swap");
    /* ~5-20 ns a switch for weft, ~0.3 us for swapcontext: a round of
     * swapcontext is the long one (~0.5 s). */
    rc = bench_run(s, 7, 2000000);
    bench_suite_free(s);
    return rc;
}

static int spawn_suite(int argc, char **argv, const char *py, char *script)
{
    const char *pyargv[] = {py, script, "spawn", NULL};
    bench_suite *s;
    int rc;

    s = bench_suite_new("Coroutine spawn + join",
                        "spawn a trivial coroutine (thread, greenlet) that "
                        "returns 0, join it and check its result; one at a "
                        "time");
    bench_parse_args(s, argc, argv);
    bench_add_timed(s, "weft spawn+join", run_weft_spawn, NULL);
    bench_add_timed(s, "pthread_create+join", run_pthread, NULL);
    if (py)
        bench_add_external(s, "Python gevent spawn+join", pyargv);
    else
        bench_add_skipped(s, "Python gevent spawn+join", NO_GEVENT);
    bench_set_baseline(s, "weft spawn+join");
    bench_check(s, "weft spawn+join", BENCH_FASTER, 100.0,
                "Python gevent spawn+join",
                "weft spawn+join at least 100x faster than gevent's");
    rc = bench_run(s, 7, 20000);
    bench_suite_free(s);
    return rc;
}

int main(int argc, char **argv)
{
    char *script = bench_path_beside(__FILE__, "co_gevent.py");
    const char *py = python_with_gevent();
    int rc = 0;

    uc.stack = malloc(STACK_SIZE);
#ifdef __x86_64__
    bare.stack = malloc(STACK_SIZE);
    if (!bare.stack)
        uc.stack = NULL;
#endif
    if (!uc.stack) {
        fprintf(stderr, "bench_co: out of memory\n");
        return 1;
    }
    rc |= switch_suite(argc, argv, py, script);
    rc |= spawn_suite(argc, argv, py, script);
    rc |= memory_section(argc, argv);
    free(uc.stack);
#ifdef __x86_64__
    free(bare.stack);
#endif
    free(script);
    return rc;
}
