/* test_thread.c - weft_thread: lifecycle, join timeouts, names, the
 * live-thread registry, fork, and weft_exit().
 *
 * cmocka's asserts jump back to the runner and so only work on the main
 * thread: thread functions record what they saw, and the test asserts it
 * after joining. Tests that end a process (weft_exit) run in a forked child.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/thread.h>

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

/* ---- Helpers ------------------------------------------------------------ */

/* A gate threads wait at until the test opens it: lets a test hold a
 * thread "running" for exactly as long as it needs. */
struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool open;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->open = false;
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->m);
    g->open = true;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->c);
    pthread_mutex_destroy(&g->m);
}

static int wait_gate(void *arg)
{
    struct gate *g = arg;

    pthread_mutex_lock(&g->m);
    while (!g->open)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
    return 7;
}

static int return_42(void *arg)
{
    return 42;
}

static weft_thread *start_or_fail(weft_thread_fn fn, void *arg,
                                  const weft_thread_opts *opts)
{
    weft_thread *t = NULL;

    assert_int_equal(weft_thread_create(&t, fn, arg, opts), 0);
    assert_non_null(t);
    assert_int_equal(weft_thread_start(t), 0);
    return t;
}

/* ---- Lifecycle ---------------------------------------------------------- */

static void test_result_value(void **state)
{
    weft_thread *t;
    int ret = -1;

    assert_int_equal(weft_thread_create(&t, return_42, NULL, NULL), 0);
    assert_int_equal(weft_thread_result(t, &ret), WEFT_ENOTSTARTED);
    assert_int_equal(weft_thread_native_id(t), 0);
    assert_false(weft_thread_daemon(t));
    assert_int_equal(weft_thread_start(t), 0);
    assert_true(weft_thread_native_id(t) > 0);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_result(t, &ret), 0);
    assert_int_equal(ret, 42);
    assert_int_equal(weft_thread_destroy(t), 0);
}

static void test_result_while_running(void **state)
{
    struct gate g;
    weft_thread *t;
    int ret = -1;

    gate_init(&g);
    t = start_or_fail(wait_gate, &g, NULL);
    assert_int_equal(weft_thread_result(t, &ret), WEFT_ERUNNING);
    assert_int_equal(ret, -1);
    gate_open(&g);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_result(t, &ret), 0);
    assert_int_equal(ret, 7);
    assert_int_equal(weft_thread_destroy(t), 0);
    gate_destroy(&g);
}

static void test_join_timeout(void **state)
{
    struct gate g;
    weft_thread *t;
    int64_t t0, waited;

    gate_init(&g);
    t = start_or_fail(wait_gate, &g, NULL);
    assert_int_equal(weft_thread_join(t, 0), -EAGAIN);
    t0 = weft_now_ns();
    assert_int_equal(weft_thread_join(t, 50), -ETIMEDOUT);
    waited = weft_now_ns() - t0;
    assert_true(waited >= 50 * 1000000LL);
    assert_true(waited < 2000 * 1000000LL);
    assert_int_equal(weft_thread_is_alive(t), 1);
    gate_open(&g);
    assert_int_equal(weft_thread_join(t, 5000), 0);
    /* Joined already: at once, whatever the timeout. */
    assert_int_equal(weft_thread_join(t, 0), 0);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_destroy(t), 0);
    gate_destroy(&g);
}

static void test_is_alive(void **state)
{
    struct gate g;
    weft_thread *t;

    gate_init(&g);
    assert_int_equal(weft_thread_create(&t, wait_gate, &g, NULL), 0);
    assert_int_equal(weft_thread_is_alive(t), 0);
    assert_int_equal(weft_thread_start(t), 0);
    assert_int_equal(weft_thread_is_alive(t), 1);
    gate_open(&g);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_is_alive(t), 0);
    assert_int_equal(weft_thread_destroy(t), 0);
    gate_destroy(&g);
}

static void test_start_twice(void **state)
{
    weft_thread *t = start_or_fail(return_42, NULL, NULL);

    assert_int_equal(weft_thread_start(t), WEFT_ESTARTED);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_start(t), WEFT_ESTARTED);
    assert_int_equal(weft_thread_destroy(t), 0);
}

static void test_join_not_started(void **state)
{
    weft_thread *t;

    assert_int_equal(weft_thread_create(&t, return_42, NULL, NULL), 0);
    assert_int_equal(weft_thread_join(t, -1), WEFT_ENOTSTARTED);
    assert_int_equal(weft_thread_join(t, 0), WEFT_ENOTSTARTED);
    assert_int_equal(weft_thread_destroy(t), 0);
}

static void test_bad_arguments(void **state)
{
    weft_thread_opts small = {.stack_size = 1};
    weft_thread *t = (weft_thread *)&t;
    int ret;

    assert_int_equal(weft_thread_create(NULL, return_42, NULL, NULL), -EINVAL);
    assert_int_equal(weft_thread_create(&t, NULL, NULL, NULL), -EINVAL);
    assert_null(t);
    assert_int_equal(weft_thread_create(&t, return_42, NULL, &small), -EINVAL);
    assert_null(t);
    assert_int_equal(weft_thread_start(NULL), -EINVAL);
    assert_int_equal(weft_thread_join(NULL, -1), -EINVAL);
    assert_int_equal(weft_thread_result(NULL, &ret), -EINVAL);
    assert_int_equal(weft_thread_is_alive(NULL), 0);
    assert_null(weft_thread_name(NULL));
    assert_false(weft_thread_daemon(NULL));
    assert_int_equal(weft_thread_native_id(NULL), 0);
    assert_int_equal(weft_thread_destroy(NULL), 0);
    assert_int_equal(weft_thread_list(NULL, 1), -EINVAL);

    assert_int_equal(weft_thread_create(&t, return_42, NULL, NULL), 0);
    assert_int_equal(weft_thread_result(t, NULL), -EINVAL);
    assert_int_equal(weft_thread_destroy(t), 0);
}

/* A function that leaves through pthread_exit() never returns, yet its
 * joiners must not wait forever. */
static int call_pthread_exit(void *arg)
{
    pthread_exit(NULL);
}

static void test_pthread_exit(void **state)
{
    weft_thread *t = start_or_fail(call_pthread_exit, NULL, NULL);
    int ret = 0;

    assert_int_equal(weft_thread_join(t, 5000), 0);
    assert_int_equal(weft_thread_result(t, &ret), 0);
    assert_int_equal(ret, -ECANCELED);
    assert_int_equal(weft_thread_count(), 1);
    assert_int_equal(weft_thread_destroy(t), 0);
}

/* ---- Destroy ------------------------------------------------------------ */

static void test_destroy_running(void **state)
{
    struct gate g;
    weft_thread *t;

    gate_init(&g);
    t = start_or_fail(wait_gate, &g, NULL);
    assert_int_equal(weft_thread_destroy(t), -EBUSY);
    /* Still a valid handle. */
    assert_int_equal(weft_thread_is_alive(t), 1);
    gate_open(&g);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_destroy(t), 0);
    gate_destroy(&g);
}

static void test_destroy_unjoined(void **state)
{
    weft_thread *t = start_or_fail(return_42, NULL, NULL);
    int i;

    /* Finished but never joined: destroy reaps it (LeakSanitizer would
     * report the thread's stack otherwise). */
    for (i = 0; i < 5000 && weft_thread_is_alive(t); i++)
        weft_sleep_ms(1);
    assert_int_equal(weft_thread_is_alive(t), 0);
    assert_int_equal(weft_thread_destroy(t), 0);
}

/* ---- Joining from many threads ------------------------------------------ */

struct joiner {
    weft_thread *target;
    int join_rc;
    int result_rc;
    int result;
};

static int join_target(void *arg)
{
    struct joiner *j = arg;

    j->join_rc = weft_thread_join(j->target, -1);
    j->result_rc = weft_thread_result(j->target, &j->result);
    return 0;
}

static void test_many_joiners(void **state)
{
    enum { N = 6 };
    struct joiner js[N];
    weft_thread *joiners[N];
    struct gate g;
    weft_thread *target;
    int i, ret;

    gate_init(&g);
    target = start_or_fail(wait_gate, &g, NULL);
    for (i = 0; i < N; i++) {
        js[i] = (struct joiner){.target = target, .join_rc = 1};
        joiners[i] = start_or_fail(join_target, &js[i], NULL);
    }
    /* Let them all block in join before the target ends. */
    weft_sleep_ms(20);
    for (i = 0; i < N; i++)
        assert_int_equal(weft_thread_is_alive(joiners[i]), 1);
    gate_open(&g);
    assert_int_equal(weft_thread_join(target, -1), 0);
    for (i = 0; i < N; i++) {
        assert_int_equal(weft_thread_join(joiners[i], 5000), 0);
        assert_int_equal(js[i].join_rc, 0);
        assert_int_equal(js[i].result_rc, 0);
        assert_int_equal(js[i].result, 7);
        assert_int_equal(weft_thread_result(joiners[i], &ret), 0);
        assert_int_equal(ret, 0);
        assert_int_equal(weft_thread_destroy(joiners[i]), 0);
    }
    assert_int_equal(weft_thread_destroy(target), 0);
    gate_destroy(&g);
}

static int join_self(void *arg)
{
    return weft_thread_join(weft_thread_current(), -1);
}

static void test_join_self(void **state)
{
    weft_thread *t = start_or_fail(join_self, NULL, NULL);
    int ret = 0;

    assert_int_equal(weft_thread_join(t, 5000), 0);
    assert_int_equal(weft_thread_result(t, &ret), 0);
    assert_int_equal(ret, -EDEADLK);
    assert_int_equal(weft_thread_destroy(t), 0);
}

/* ---- Names and identity ------------------------------------------------- */

static void test_default_names_unique(void **state)
{
    enum { N = 64 };
    weft_thread *ts[N];
    char given[] = "given-name";
    weft_thread_opts opts = {.name = given};
    weft_thread *named;
    int i, j;

    for (i = 0; i < N; i++) {
        assert_int_equal(weft_thread_create(&ts[i], return_42, NULL, NULL), 0);
        assert_int_equal(strncmp(weft_thread_name(ts[i]), "Thread-", 7), 0);
        for (j = 0; j < i; j++)
            assert_string_not_equal(weft_thread_name(ts[i]),
                                    weft_thread_name(ts[j]));
    }
    for (i = 0; i < N; i++)
        assert_int_equal(weft_thread_destroy(ts[i]), 0);

    /* The name is copied: the caller's buffer may change afterwards. */
    assert_int_equal(weft_thread_create(&named, return_42, NULL, &opts), 0);
    given[0] = 'X';
    assert_string_equal(weft_thread_name(named), "given-name");
    assert_int_equal(weft_thread_destroy(named), 0);
}

struct seen {
    const char *name;
    weft_thread *current;
    pid_t tid;
    char kname[32];
};

static int record_identity(void *arg)
{
    struct seen *s = arg;

    s->name = weft_thread_current_name();
    s->current = weft_thread_current();
    s->tid = gettid();
    pthread_getname_np(pthread_self(), s->kname, sizeof s->kname);
    return 0;
}

static void *record_identity_pthread(void *arg)
{
    record_identity(arg);
    return NULL;
}

static void test_current_name(void **state)
{
    weft_thread_opts opts = {.name = "worker"};
    struct seen s = {0}, d = {0};
    weft_thread *t;
    pthread_t pt;

    assert_string_equal(weft_thread_current_name(), "MainThread");
    assert_null(weft_thread_current());

    t = start_or_fail(record_identity, &s, &opts);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_string_equal(s.name, "worker");
    assert_ptr_equal(s.current, t);
    assert_int_equal(weft_thread_native_id(t), s.tid);
    assert_int_not_equal(s.tid, getpid());
    assert_int_equal(weft_thread_destroy(t), 0);

    /* Default name: the same one the handle reports. */
    memset(&s, 0, sizeof s);
    t = start_or_fail(record_identity, &s, NULL);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_string_equal(s.name, weft_thread_name(t));
    assert_int_equal(weft_thread_destroy(t), 0);

    /* A thread weft did not start. */
    assert_int_equal(pthread_create(&pt, NULL, record_identity_pthread, &d), 0);
    assert_int_equal(pthread_join(pt, NULL), 0);
    assert_string_equal(d.name, "Dummy");
    assert_null(d.current);
}

static void test_kernel_name(void **state)
{
    weft_thread_opts opts = {.name = "a-very-long-thread-name"};
    /* "ab" then eight two-byte characters: the 15-byte cut falls inside
     * the seventh, which must go whole. */
    weft_thread_opts utf8 = {.name = "ab\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
    struct seen s = {0};
    weft_thread *t;

    t = start_or_fail(record_identity, &s, &opts);
    assert_int_equal(weft_thread_join(t, -1), 0);
    /* The kernel keeps 15 bytes; weft keeps the whole name. */
    assert_string_equal(s.kname, "a-very-long-thr");
    assert_string_equal(s.name, "a-very-long-thread-name");
    assert_int_equal(weft_thread_destroy(t), 0);

    memset(&s, 0, sizeof s);
    t = start_or_fail(record_identity, &s, &utf8);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_string_equal(s.kname, "ab\xc3\xa9\xc3\xa9\xc3\xa9"
                                 "\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_int_equal(weft_thread_destroy(t), 0);
}

/* ---- The live-thread registry ------------------------------------------- */

static bool contains(weft_thread **list, int n, weft_thread *t)
{
    int i;

    for (i = 0; i < n; i++)
        if (list[i] == t)
            return true;
    return false;
}

static void test_count_and_list(void **state)
{
    enum { N = 3 };
    weft_thread *ts[N], *out[8];
    struct gate g;
    int i;

    assert_int_equal(weft_thread_count(), 1);
    assert_int_equal(weft_thread_list(out, 8), 0);
    gate_init(&g);
    for (i = 0; i < N; i++)
        ts[i] = start_or_fail(wait_gate, &g, NULL);
    assert_int_equal(weft_thread_count(), N + 1);
    assert_int_equal(weft_thread_list(out, 8), N);
    for (i = 0; i < N; i++)
        assert_true(contains(out, N, ts[i]));
    /* Too small a buffer: the full count, only cap written. */
    memset(out, 0, sizeof out);
    assert_int_equal(weft_thread_list(out, 1), N);
    assert_true(contains(ts, N, out[0]));
    assert_null(out[1]);
    assert_int_equal(weft_thread_list(NULL, 0), N);
    gate_open(&g);
    for (i = 0; i < N; i++) {
        assert_int_equal(weft_thread_join(ts[i], -1), 0);
        assert_int_equal(weft_thread_destroy(ts[i]), 0);
    }
    assert_int_equal(weft_thread_count(), 1);
    assert_int_equal(weft_thread_list(out, 8), 0);
    gate_destroy(&g);
}

/* ---- Options and shared memory ------------------------------------------ */

struct stack_probe {
    size_t size;
    int rc;
};

static int probe_stack(void *arg)
{
    struct stack_probe *p = arg;
    volatile char use[64 * 1024];
    pthread_attr_t attr;

    /* Touch a good part of the requested stack. */
    memset((char *)use, 1, sizeof use);
    p->rc = pthread_getattr_np(pthread_self(), &attr);
    if (p->rc == 0) {
        p->rc = pthread_attr_getstacksize(&attr, &p->size);
        pthread_attr_destroy(&attr);
    }
    return use[sizeof use - 1];
}

static void test_stack_size(void **state)
{
    /* Not a page multiple, far from the 8 MiB default. */
    weft_thread_opts opts = {.stack_size = 256 * 1024 + 1};
    weft_thread_opts tiny = {.stack_size = PTHREAD_STACK_MIN - 1};
    weft_thread_opts huge = {.stack_size = SIZE_MAX};
    struct stack_probe p = {0};
    weft_thread *t;
    int ret = 0;

    t = start_or_fail(probe_stack, &p, &opts);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_result(t, &ret), 0);
    assert_int_equal(ret, 1);
    assert_int_equal(p.rc, 0);
    assert_true(p.size >= 256 * 1024);
    assert_true(p.size <= 256 * 1024 + 64 * 1024);
    assert_int_equal(weft_thread_destroy(t), 0);

    assert_int_equal(weft_thread_create(&t, probe_stack, &p, &tiny), -EINVAL);
    assert_int_equal(weft_thread_create(&t, probe_stack, &p, &huge), -EINVAL);
    /* The minimum itself is fine. */
    tiny.stack_size = PTHREAD_STACK_MIN;
    assert_int_equal(weft_thread_create(&t, return_42, NULL, &tiny), 0);
    assert_int_equal(weft_thread_destroy(t), 0);
}

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static const char *message;

static int increment(void *arg)
{
    int i;

    for (i = 0; i < 10000; i++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        pthread_mutex_unlock(&counter_lock);
    }
    return 0;
}

static int set_message(void *arg)
{
    message = arg;
    return 0;
}

static void test_shared_globals(void **state)
{
    enum { N = 4 };
    weft_thread *ts[N], *t;
    int i;

    counter = 0;
    for (i = 0; i < N; i++)
        ts[i] = start_or_fail(increment, NULL, NULL);
    for (i = 0; i < N; i++) {
        assert_int_equal(weft_thread_join(ts[i], -1), 0);
        assert_int_equal(weft_thread_destroy(ts[i]), 0);
    }
    assert_int_equal(counter, N * 10000);

    /* A global written by the thread is what main reads after join. */
    message = NULL;
    t = start_or_fail(set_message, "hello from a thread", NULL);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_string_equal(message, "hello from a thread");
    assert_int_equal(weft_thread_destroy(t), 0);
}

/* ---- Fork ---------------------------------------------------------------- */

/* In the child: exit code 0 if all checks hold, else the failing check. */
static int fork_child_checks(weft_thread *parents)
{
    weft_thread *out[4];
    weft_thread *t;
    struct gate g;
    int ret;

    if (weft_thread_count() != 1)
        return 1;
    if (weft_thread_list(out, 4) != 0)
        return 2;
    if (weft_thread_is_alive(parents) != 0)
        return 3;
    if (weft_thread_join(parents, 0) != -ECHILD)
        return 4;
    if (weft_thread_result(parents, &ret) != -ECHILD)
        return 5;
    if (weft_thread_start(parents) != WEFT_ESTARTED)
        return 6;
    if (strcmp(weft_thread_current_name(), "MainThread") != 0)
        return 7;
    if (weft_thread_destroy(parents) != 0)
        return 8;
    /* TSan cannot start threads in the child of a threaded parent. */
    if (UNDER_TSAN)
        return 0;
    gate_init(&g);
    if (weft_thread_create(&t, wait_gate, &g, NULL) != 0 ||
        weft_thread_start(t) != 0)
        return 9;
    if (weft_thread_count() != 2)
        return 10;
    gate_open(&g);
    if (weft_thread_join(t, 5000) != 0 || weft_thread_result(t, &ret) != 0 ||
        ret != 7)
        return 11;
    if (weft_thread_destroy(t) != 0 || weft_thread_count() != 1)
        return 12;
    return 0;
}

static void test_fork_child_registry(void **state)
{
    struct gate g;
    weft_thread *t;
    pid_t pid;
    int status;

    gate_init(&g);
    t = start_or_fail(wait_gate, &g, NULL);
    fflush(NULL); /* or the child writes cmocka's buffered output again */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fork_child_checks(t));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's registry is untouched. */
    assert_int_equal(weft_thread_count(), 2);
    gate_open(&g);
    assert_int_equal(weft_thread_join(t, -1), 0);
    assert_int_equal(weft_thread_destroy(t), 0);
    gate_destroy(&g);
}

/* ---- weft_exit ------------------------------------------------------------
 */

static int pipe_wr = -1;

static int sleep_then_write(void *arg)
{
    const char *what = arg;

    weft_sleep_ms(what[0] == 'N' ? 200 : 3000);
    if (write(pipe_wr, what, 1) != 1)
        return 1;
    return 0;
}

/* Read everything until EOF (or 5 s). Returns the byte count. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t n = 0;
    ssize_t r;

    while (n < cap && poll(&pfd, 1, 5000) > 0) {
        r = read(fd, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    return n;
}

static void test_exit_waits_for_non_daemon(void **state)
{
    weft_thread_opts daemon = {.name = "daemon", .daemon = true};
    weft_thread_opts worker = {.name = "worker"};
    weft_thread *d, *w;
    int fds[2], status;
    int64_t t0, took;
    char buf[8];
    size_t n;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    t0 = weft_now_ns();
    fflush(NULL); /* or the child writes cmocka's buffered output again */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        pipe_wr = fds[1];
        if (weft_thread_create(&d, sleep_then_write, "D", &daemon) != 0 ||
            weft_thread_start(d) != 0 ||
            weft_thread_create(&w, sleep_then_write, "N", &worker) != 0 ||
            weft_thread_start(w) != 0)
            _exit(10);
        weft_exit(0);
    }
    close(fds[1]);
    n = read_all(fds[0], buf, sizeof buf);
    took = weft_now_ns() - t0;
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The worker's byte, and not the daemon's: the process ended after the
     * worker and long before the daemon's 3 s. */
    assert_int_equal(n, 1);
    assert_int_equal(buf[0], 'N');
    assert_true(took >= 200 * 1000000LL);
    assert_true(took < 2500 * 1000000LL);
}

static int call_weft_exit(void *arg)
{
    weft_exit(3);
}

static void test_exit_from_weft_thread(void **state)
{
    weft_thread *t;
    int status;
    pid_t pid;

    fflush(NULL); /* or the child writes cmocka's buffered output again */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A non-daemon thread calling weft_exit() does not wait for
         * itself; main, blocked in join, is not waited for either. */
        if (weft_thread_create(&t, call_weft_exit, NULL, NULL) != 0 ||
            weft_thread_start(t) != 0)
            _exit(10);
        weft_thread_join(t, 5000);
        _exit(11);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_value),
        cmocka_unit_test(test_result_while_running),
        cmocka_unit_test(test_join_timeout),
        cmocka_unit_test(test_is_alive),
        cmocka_unit_test(test_start_twice),
        cmocka_unit_test(test_join_not_started),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_pthread_exit),
        cmocka_unit_test(test_destroy_running),
        cmocka_unit_test(test_destroy_unjoined),
        cmocka_unit_test(test_many_joiners),
        cmocka_unit_test(test_join_self),
        cmocka_unit_test(test_default_names_unique),
        cmocka_unit_test(test_current_name),
        cmocka_unit_test(test_kernel_name),
        cmocka_unit_test(test_count_and_list),
        cmocka_unit_test(test_stack_size),
        cmocka_unit_test(test_shared_globals),
        cmocka_unit_test(test_fork_child_registry),
        cmocka_unit_test(test_exit_waits_for_non_daemon),
        cmocka_unit_test(test_exit_from_weft_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
