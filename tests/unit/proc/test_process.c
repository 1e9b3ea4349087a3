/* test_process.c - weft_process: lifecycle, exit codes, reaping, daemons,
 * exit-time behaviour, the fork server, and bad input. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/proc_helpers.h"

/* ---- Helpers ------------------------------------------------------------ */

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static int ret_bytes(void *arg)
{
    return *(int *)arg;
}

static int call_exit(void *arg)
{
    (void)arg;
    exit(3);
}

static int sleep_long(void *arg)
{
    (void)arg;
    sleep(30);
    return 0;
}

static int check_name(void *arg)
{
    return strcmp(weft_current_name(), (const char *)arg) == 0 ? 0 : 1;
}

static int global_value = 1;

static int set_global(void *arg)
{
    global_value = (int)(intptr_t)arg;
    return global_value;
}

static int run_one(weft_process_fn fn, void *arg, int *code)
{
    weft_process *p;
    int rc;

    assert_int_equal(weft_process_create(&p, fn, arg, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    rc = weft_process_exitcode(p, code);
    assert_int_equal(weft_process_destroy(p), 0);
    return rc;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_exit_codes(void **state)
{
    weft_process *p;
    int code;

    (void)state;
    assert_int_equal(run_one(ret_arg, (void *)0, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(run_one(ret_arg, (void *)7, &code), 0);
    assert_int_equal(code, 7);
    assert_int_equal(run_one(call_exit, NULL, &code), 0);
    assert_int_equal(code, 3);

    assert_int_equal(weft_process_create(&p, sleep_long, NULL, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_kill(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, -9);
    /* Signalling a child that has exited does nothing. */
    assert_int_equal(weft_process_terminate(p), 0);
    assert_int_equal(weft_process_destroy(p), 0);

    assert_int_equal(weft_process_create(&p, sleep_long, NULL, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_terminate(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, -15);
    assert_int_equal(weft_process_destroy(p), 0);
}

static void test_join_timeout_and_alive(void **state)
{
    weft_process *p;
    int64_t t0;
    int code;

    (void)state;
    assert_int_equal(weft_process_create(&p, sleep_long, NULL, NULL), 0);
    assert_int_equal(weft_process_is_alive(p), 0);
    assert_int_equal(weft_process_pid(p), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_true(weft_process_pid(p) > 0);
    assert_int_equal(weft_process_is_alive(p), 1);
    t0 = weft_now_ms();
    assert_int_equal(weft_process_join(p, 100), -ETIMEDOUT);
    assert_in_range(weft_now_ms() - t0, 100, 2000);
    assert_int_equal(weft_process_join(p, 0), -EAGAIN);
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_ERUNNING);
    assert_int_equal(weft_process_destroy(p), -EBUSY);
    assert_int_equal(weft_process_kill(p), 0);
    assert_int_equal(weft_process_join(p, -1), 0);
    assert_int_equal(weft_process_is_alive(p), 0);
    assert_int_equal(weft_process_join(p, 0), 0); /* again: still done */
    assert_int_equal(weft_process_destroy(p), 0);
}

/* The sentinel is a pidfd: not readable while the child runs, readable
 * once it ended - whether or not the reaper got there first. */
static void test_sentinel(void **state)
{
    weft_process *p;
    struct pollfd pf;

    (void)state;
    assert_int_equal(weft_process_create(&p, sleep_long, NULL, NULL), 0);
    assert_int_equal(weft_process_sentinel(p), WEFT_ENOTSTARTED);
    assert_int_equal(weft_process_sentinel(NULL), -EINVAL);
    assert_int_equal(weft_process_start(p), 0);
    pf = (struct pollfd){weft_process_sentinel(p), POLLIN, 0};
    assert_true(pf.fd >= 0);
    assert_int_equal(poll(&pf, 1, 50), 0);
    assert_int_equal(weft_process_kill(p), 0);
    assert_int_equal(poll(&pf, 1, 5000), 1);
    assert_true(pf.revents & POLLIN);
    usleep(20 * 1000); /* the reaper has reaped it by now: still readable */
    assert_int_equal(poll(&pf, 1, 0), 1);
    assert_int_equal(weft_process_join(p, 0), 0);
    assert_int_equal(weft_process_destroy(p), 0);
}

static void test_names(void **state)
{
    weft_process *a, *b, *c;
    weft_process_opts o = {.name = "worker"};
    int code;

    (void)state;
    assert_int_equal(weft_process_create(&a, ret_arg, NULL, NULL), 0);
    assert_int_equal(weft_process_create(&b, ret_arg, NULL, NULL), 0);
    assert_int_equal(weft_process_create(&c, check_name, "worker", &o), 0);
    assert_non_null(strstr(weft_process_name(a), "Process-"));
    assert_string_not_equal(weft_process_name(a), weft_process_name(b));
    assert_string_equal(weft_process_name(c), "worker");
    assert_string_equal(weft_current_name(), "MainProcess");
    assert_int_equal(weft_process_start(c), 0);
    assert_int_equal(weft_process_join(c, 5000), 0);
    assert_int_equal(weft_process_exitcode(c, &code), 0);
    assert_int_equal(code, 0); /* the child saw its own name */
    weft_process_destroy(a);
    weft_process_destroy(b);
    weft_process_destroy(c);
}

static void test_run_in_caller_and_isolation(void **state)
{
    weft_process *p;
    int code;

    (void)state;
    global_value = 1;
    assert_int_equal(weft_process_create(&p, set_global, (void *)5, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, 5);
    assert_int_equal(global_value, 1);        /* the child had its own copy */
    assert_int_equal(weft_process_run(p), 5); /* run() is in the caller */
    assert_int_equal(global_value, 5);
    assert_int_equal(weft_process_destroy(p), 0);
}

static void test_arg_bytes_are_copied(void **state)
{
    int v = 42, code;
    weft_process_opts o = {.arg_bytes = &v, .arg_len = sizeof v};
    weft_process *p;

    (void)state;
    assert_int_equal(weft_process_create(&p, ret_bytes, NULL, &o), 0);
    v = 9;
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, 42);
    weft_process_destroy(p);
}

static void test_bad_input(void **state)
{
    weft_process *p;
    weft_process_opts both = {.arg_bytes = "x", .arg_len = 1};
    weft_process_opts fs = {.start_method = WEFT_START_FORKSERVER};
    weft_process_opts bad = {.start_method = 99};
    int code;

    (void)state;
    assert_int_equal(weft_process_create(&p, NULL, NULL, NULL), -EINVAL);
    assert_null(p);
    assert_int_equal(weft_process_create(NULL, ret_arg, NULL, NULL), -EINVAL);
    assert_int_equal(weft_process_create(&p, ret_arg, "x", &both), -EINVAL);
    assert_int_equal(weft_process_create(&p, ret_arg, "x", &fs), -EINVAL);
    assert_int_equal(weft_process_create(&p, ret_arg, NULL, &bad), -EINVAL);

    assert_int_equal(weft_process_create(&p, ret_arg, NULL, NULL), 0);
    assert_int_equal(weft_process_join(p, 0), WEFT_ENOTSTARTED);
    assert_int_equal(weft_process_kill(p), WEFT_ENOTSTARTED);
    assert_int_equal(weft_process_terminate(p), WEFT_ENOTSTARTED);
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_ENOTSTARTED);
    assert_int_equal(weft_process_signal(p, 0), -EINVAL);
    assert_int_equal(weft_process_signal(p, 4096), -EINVAL);
    assert_int_equal(weft_process_signal(p, -3), -EINVAL);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_start(p), WEFT_ESTARTED);
    assert_int_equal(weft_process_signal(p, 4096), -EINVAL);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, NULL), -EINVAL);
    assert_int_equal(weft_process_destroy(p), 0);

    assert_int_equal(weft_process_start(NULL), -EINVAL);
    assert_int_equal(weft_process_join(NULL, 0), -EINVAL);
    assert_int_equal(weft_process_kill(NULL), -EINVAL);
    assert_int_equal(weft_process_run(NULL), -EINVAL);
    assert_int_equal(weft_process_is_alive(NULL), 0);
    assert_int_equal(weft_process_destroy(NULL), 0);
    assert_int_equal(weft_set_start_method(7), -EINVAL);
}

/* 1,000 processes started and joined leave no zombie; nor do children
 * nobody joins: the reaper takes them as they exit. */
static void test_no_zombies(void **state)
{
    enum { N = 1000, M = 50 };
    static weft_process *ps[M];
    weft_process *p;
    int i, code;

    (void)state;
    for (i = 0; i < N; i++) {
        assert_int_equal(weft_process_create(&p, ret_arg, (void *)1, NULL), 0);
        assert_int_equal(weft_process_start(p), 0);
        assert_int_equal(weft_process_join(p, 5000), 0);
        assert_int_equal(weft_process_exitcode(p, &code), 0);
        assert_int_equal(code, 1);
        assert_int_equal(weft_process_destroy(p), 0);
    }
    assert_int_equal(count_zombies(), 0);

    for (i = 0; i < M; i++) {
        assert_int_equal(weft_process_create(&ps[i], ret_arg, NULL, NULL), 0);
        assert_int_equal(weft_process_start(ps[i]), 0);
    }
    for (i = 0; i < 100 && count_zombies() > 0; i++)
        weft_sleep_ms(10);
    weft_sleep_ms(50);
    assert_int_equal(count_zombies(), 0); /* nobody joined them */
    for (i = 0; i < M; i++) {
        assert_int_equal(weft_process_exitcode(ps[i], &code), 0);
        assert_int_equal(weft_process_destroy(ps[i]), 0);
    }
}

/* weft reaps only its own children: another child's status stays for
 * whoever started it. */
static void test_does_not_steal_other_children(void **state)
{
    weft_process *p;
    int status, code;
    pid_t raw;

    (void)state;
    raw = fork();
    assert_true(raw >= 0);
    if (raw == 0)
        _exit(17);
    assert_int_equal(weft_process_create(&p, ret_arg, (void *)4, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    weft_sleep_ms(50); /* let the raw child exit while the reaper runs */
    assert_int_equal(waitpid(raw, &status, 0), raw);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 17);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, 4);
    weft_process_destroy(p);
}

static int daemon_parent(void *arg)
{
    int fd = (int)(intptr_t)arg;
    weft_process_opts o = {.daemon = true};
    weft_process *d;
    pid_t pid;

    if (weft_process_create(&d, sleep_long, NULL, &o) < 0 ||
        weft_process_start(d) < 0)
        return 1;
    pid = weft_process_pid(d);
    if (write(fd, &pid, sizeof pid) != sizeof pid)
        return 1;
    sleep(30);
    return 0;
}

/* A daemon child is gone within 1 s after its parent is SIGKILLed. */
static void test_daemon_dies_with_killed_parent(void **state)
{
    weft_process *parent;
    int fds[2], code;
    pid_t daemon_pid;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(weft_process_create(&parent, daemon_parent,
                                         (void *)(intptr_t)fds[1], NULL),
                     0);
    assert_int_equal(weft_process_start(parent), 0);
    assert_int_equal(read(fds[0], &daemon_pid, sizeof daemon_pid),
                     sizeof daemon_pid);
    assert_true(daemon_pid > 0);
    assert_false(gone_within(daemon_pid, 0));
    assert_int_equal(weft_process_kill(parent), 0);
    assert_int_equal(weft_process_join(parent, 5000), 0);
    assert_int_equal(weft_process_exitcode(parent, &code), 0);
    assert_int_equal(code, -9);
    assert_true(gone_within(daemon_pid, 1000));
    weft_process_destroy(parent);
    close(fds[0]);
    close(fds[1]);
}

static int slow_then_write(void *arg)
{
    int fd = (int)(intptr_t)arg;

    weft_sleep_ms(200);
    return write(fd, "N", 1) == 1 ? 0 : 1;
}

struct exit_report {
    pid_t daemon;
    pid_t worker;
};

/* Starts a daemon and a non-daemon child, then simply exits. */
static int exiting_parent(void *arg)
{
    int fd = (int)(intptr_t)arg;
    weft_process_opts dopt = {.daemon = true};
    weft_process *d, *w;
    struct exit_report r;

    if (weft_process_create(&d, sleep_long, NULL, &dopt) < 0 ||
        weft_process_create(&w, slow_then_write, arg, NULL) < 0 ||
        weft_process_start(d) < 0 || weft_process_start(w) < 0)
        return 1;
    r.daemon = weft_process_pid(d);
    r.worker = weft_process_pid(w);
    if (write(fd, &r, sizeof r) != sizeof r)
        return 1;
    exit(0); /* weft's atexit: join the worker, terminate the daemon */
}

static void test_exit_joins_children_and_ends_daemons(void **state)
{
    weft_process *parent;
    struct exit_report r;
    int fds[2], code;
    char c = 0;
    int64_t t0;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    t0 = weft_now_ms();
    assert_int_equal(weft_process_create(&parent, exiting_parent,
                                         (void *)(intptr_t)fds[1], NULL),
                     0);
    assert_int_equal(weft_process_start(parent), 0);
    assert_int_equal(read(fds[0], &r, sizeof r), sizeof r);
    assert_int_equal(weft_process_join(parent, 5000), 0);
    assert_true(weft_now_ms() - t0 >= 200); /* it waited for the worker */
    assert_int_equal(weft_process_exitcode(parent, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'N');
    assert_true(gone_within(r.daemon, 1000));
    assert_true(gone_within(r.worker, 1000));
    weft_process_destroy(parent);
    close(fds[0]);
    close(fds[1]);
}

/* Handles inherited across fork are inert in the child. */
static void test_inherited_handle_is_inert(void **state)
{
    weft_process *p;
    int status;
    pid_t raw;

    (void)state;
    assert_int_equal(weft_process_create(&p, sleep_long, NULL, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    raw = fork();
    assert_true(raw >= 0);
    if (raw == 0) {
        int ok = weft_process_join(p, 0) == -ECHILD &&
                 weft_process_kill(p) == -ECHILD &&
                 weft_process_is_alive(p) == 0;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(raw, &status, 0), raw);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(weft_process_is_alive(p), 1); /* untouched by it */
    weft_process_kill(p);
    weft_process_join(p, -1);
    weft_process_destroy(p);
}

static void test_sigchld_ignored_loses_status(void **state)
{
    struct sigaction ign = {0}, old;
    weft_process *p;
    int code;

    (void)state;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    assert_int_equal(weft_process_create(&p, ret_arg, (void *)3, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_ENOSTATUS);
    assert_int_equal(weft_process_is_alive(p), 0);
    sigaction(SIGCHLD, &old, NULL);
    assert_int_equal(weft_process_destroy(p), 0);
    assert_int_equal(count_zombies(), 0);
}

/* With SIGCHLD ignored the kernel may reap a quick child before the parent
 * opens its pidfd: start must still succeed, with the status lost. */
static void test_sigchld_ignored_quick_children(void **state)
{
    struct sigaction ign = {0}, old;
    weft_process *p;
    int i, code;

    (void)state;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(weft_process_create(&p, ret_arg, NULL, NULL), 0);
        assert_int_equal(weft_process_start(p), 0);
        assert_int_equal(weft_process_join(p, 5000), 0);
        assert_int_equal(weft_process_exitcode(p, &code), WEFT_ENOSTATUS);
        assert_int_equal(weft_process_destroy(p), 0);
    }
    sigaction(SIGCHLD, &old, NULL);
}

static void test_current_process(void **state)
{
    (void)state;
    assert_int_equal(weft_current_pid(), getpid());
    assert_int_equal(weft_parent_pid(), getppid());
    assert_true(weft_cpu_count() >= 1);
    assert_int_equal(weft_get_start_method(), WEFT_START_FORK);
}

/* ---- Fork server -------------------------------------------------------- */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t go = PTHREAD_MUTEX_INITIALIZER;

/* A child that needs the lock another thread of the parent holds: with
 * fork it would hang forever; from the fork server it gets it at once. */
static int take_held_lock(void *arg)
{
    (void)arg;
    return pthread_mutex_trylock(&held) == 0 ? 0 : 1;
}

static void *hold_lock(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    pthread_mutex_lock(&go); /* wait until the test lets go */
    pthread_mutex_unlock(&go);
    pthread_mutex_unlock(&held);
    return NULL;
}

static void test_forkserver(void **state)
{
    weft_process_opts o = {.start_method = WEFT_START_FORKSERVER};
    weft_process *p, *q;
    pthread_t tid;
    int v = 99, code;

    (void)state;
    assert_int_equal(weft_forkserver_start(), 0);
    assert_true(weft_forkserver_pid() > 0);
    assert_int_equal(weft_forkserver_start(), 0); /* idempotent */

    o.arg_bytes = &v;
    o.arg_len = sizeof v;
    o.name = "fs-child";
    assert_int_equal(weft_process_create(&p, ret_bytes, NULL, &o), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, 99);
    weft_process_destroy(p);

    o.arg_bytes = "fs-child";
    o.arg_len = sizeof "fs-child";
    assert_int_equal(weft_process_create(&p, check_name, NULL, &o), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, 0);
    weft_process_destroy(p);

    o.arg_bytes = NULL;
    o.arg_len = 0;
    assert_int_equal(weft_process_create(&p, sleep_long, NULL, &o), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 50), -ETIMEDOUT);
    assert_int_equal(weft_process_is_alive(p), 1);
    assert_int_equal(weft_process_kill(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, -9);
    weft_process_destroy(p);

    /* The fork server's children are copies of the early, single-threaded
     * program: a lock another thread holds now is free in them. */
    pthread_mutex_lock(&go);
    assert_int_equal(pthread_create(&tid, NULL, hold_lock, NULL), 0);
    while (pthread_mutex_trylock(&held) == 0) { /* wait for the holder */
        pthread_mutex_unlock(&held);
        weft_sleep_ms(1);
    }
    assert_int_equal(weft_forkserver_start(), 0); /* running: fine */
    assert_int_equal(weft_process_create(&q, take_held_lock, NULL, &o), 0);
    assert_int_equal(weft_process_start(q), 0);
    assert_int_equal(weft_process_join(q, 5000), 0);
    assert_int_equal(weft_process_exitcode(q, &code), 0);
    assert_int_equal(code, 0);
    weft_process_destroy(q);

    /* Once stopped, the method reports it; a threaded program cannot
     * start a new one. */
    assert_int_equal(weft_forkserver_stop(), 0);
    assert_int_equal(weft_forkserver_pid(), 0);
    assert_int_equal(weft_process_create(&p, ret_bytes, NULL, &o), 0);
    assert_int_equal(weft_process_start(p), WEFT_ENOFORKSERVER);
    weft_process_destroy(p);
    assert_int_equal(weft_forkserver_start(), -EDEADLK);
    pthread_mutex_unlock(&go);
    pthread_join(tid, NULL);
    assert_int_equal(weft_forkserver_stop(), 0); /* none: no-op */
    assert_int_equal(count_zombies(), 0);
}

static void test_forkserver_default_method(void **state)
{
    weft_process *p;
    int code;

    (void)state;
    assert_int_equal(weft_forkserver_start(), 0);
    assert_int_equal(weft_set_start_method(WEFT_START_FORKSERVER), 0);
    assert_int_equal(weft_process_create(&p, ret_arg, NULL, NULL), 0);
    assert_int_equal(weft_process_start(p), 0);
    assert_int_equal(weft_process_join(p, 5000), 0);
    assert_int_equal(weft_process_exitcode(p, &code), 0);
    assert_int_equal(code, 0);
    weft_process_destroy(p);
    /* A raw pointer cannot cross to the fork server. */
    assert_int_equal(weft_process_create(&p, ret_arg, (void *)1, NULL), 0);
    assert_int_equal(weft_process_start(p), -EINVAL);
    weft_process_destroy(p);
    assert_int_equal(weft_set_start_method(WEFT_START_FORK), 0);
    assert_int_equal(weft_forkserver_stop(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_join_timeout_and_alive),
        cmocka_unit_test(test_sentinel),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_run_in_caller_and_isolation),
        cmocka_unit_test(test_arg_bytes_are_copied),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_no_zombies),
        cmocka_unit_test(test_does_not_steal_other_children),
        cmocka_unit_test(test_daemon_dies_with_killed_parent),
        cmocka_unit_test(test_exit_joins_children_and_ends_daemons),
        cmocka_unit_test(test_inherited_handle_is_inert),
        cmocka_unit_test(test_sigchld_ignored_loses_status),
        cmocka_unit_test(test_sigchld_ignored_quick_children),
        cmocka_unit_test(test_current_process),
        cmocka_unit_test(test_forkserver),
        cmocka_unit_test(test_forkserver_default_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
