/* test_co.c - the coroutine scheduler: order and fairness, sleep, join,
 * cancel, switch, deadlock, I/O with timeouts against a stalling peer,
 * 100,000 coroutines in bounded memory, a stack overflow that hits the
 * guard page, bad input. (Channels and the synchronization objects:
 * test_chan.c; the context switch itself: test_ctx.c.) */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>
#include <weft/co.h>

#include "co/sched_int.h" /* WEFT__CO_ASAN */

static int run(weft_co_fn fn, void *arg)
{
    int result = -12345;
    assert_int_equal(weft_co_run(fn, arg, NULL, &result), 0);
    return result;
}

/* ---- order and fairness ------------------------------------------------- */

static char trace[256];
static size_t ntrace;

static int tracer(void *arg)
{
    const char *name = arg;
    for (int i = 0; i < 3; i++) {
        trace[ntrace++] = name[0];
        weft_co_yield();
    }
    return 0;
}

static int order_main(void *arg)
{
    (void)arg;
    weft_co *a, *b, *c;
    assert_int_equal(weft_co_spawn(&a, tracer, "a", NULL), 0);
    assert_int_equal(weft_co_spawn(&b, tracer, "b", NULL), 0);
    assert_int_equal(weft_co_spawn(&c, tracer, "c", NULL), 0);
    /* Spawned coroutines run only when this one yields or blocks. */
    assert_int_equal(ntrace, 0);
    weft_co *all[3] = {a, b, c};
    assert_int_equal(weft_co_join_all(all, 3, -1), 0);
    for (int i = 0; i < 3; i++)
        weft_co_release(all[i]);
    return 0;
}

static void test_order(void **state)
{
    (void)state;
    ntrace = 0;
    run(order_main, NULL);
    trace[ntrace] = 0;
    /* FIFO round robin: each yields in turn. */
    assert_string_equal(trace, "abcabcabc");
}

/* ---- sleep --------------------------------------------------------------- */

static int sleeper(void *arg)
{
    return weft_co_sleep((int)(intptr_t)arg);
}

static int sleep_main(void *arg)
{
    (void)arg;
    int64_t t0 = weft_now_ns();
    weft_co *x, *y;
    assert_int_equal(weft_co_spawn(&x, sleeper, (void *)300, NULL), 0);
    assert_int_equal(weft_co_spawn(&y, sleeper, (void *)100, NULL), 0);
    assert_int_equal(weft_co_join(y, -1, NULL), 0);
    int64_t t_y = weft_now_ns() - t0;
    assert_int_equal(weft_co_join(x, -1, NULL), 0);
    int64_t t_x = weft_now_ns() - t0;
    /* Never early; late only by scheduling noise (generous: CI machines
     * are loaded; the benchmarks, not this test, measure precision). */
    assert_true(t_y >= 100000000 && t_y < 500000000);
    assert_true(t_x >= 300000000 && t_x < 1000000000);
    weft_co_release(x);
    weft_co_release(y);
    /* Accuracy of a short sleep: at least what was asked. */
    for (int i = 0; i < 20; i++) {
        int64_t t = weft_now_ns();
        assert_int_equal(weft_co_sleep(2), 0);
        assert_true(weft_now_ns() - t >= 2000000);
    }
    assert_int_equal(weft_co_sleep(0), 0);
    assert_int_equal(weft_co_sleep(-1), -EINVAL);
    return 0;
}

static void test_sleep(void **state)
{
    (void)state;
    run(sleep_main, NULL);
    /* Outside a scheduler, sleep sleeps the thread. */
    int64_t t = weft_now_ms();
    assert_int_equal(weft_co_sleep(20), 0);
    assert_true(weft_now_ms() - t >= 20);
}

/* ---- join and cancel ------------------------------------------------------
 */

static int returns(void *arg)
{
    return (int)(intptr_t)arg;
}

static int cleanup_done;

/* Blocks until cancelled, then cleans up and reports how it ended. */
static int cancellable(void *arg)
{
    (void)arg;
    int rc = weft_co_sleep(60000);
    cleanup_done = weft_co_cancelled() ? 1 : 0;
    /* Every later blocking call fails at once too. */
    assert_int_equal(weft_co_sleep(10), -ECANCELED);
    return rc;
}

static int waits_forever(void *arg)
{
    weft_co *other = arg;
    return weft_co_join(other, -1, NULL);
}

static int join_main(void *arg)
{
    (void)arg;
    weft_co *c;
    assert_int_equal(weft_co_spawn(&c, returns, (void *)7, NULL), 0);
    assert_int_equal(weft_co_done(c), 0);
    int r = 0;
    assert_int_equal(weft_co_join(c, -1, &r), 0);
    assert_int_equal(r, 7);
    assert_int_equal(weft_co_done(c), 1);
    /* A finished coroutine joins at once, as often as asked. */
    r = 0;
    assert_int_equal(weft_co_join(c, 0, &r), 0);
    assert_int_equal(r, 7);
    assert_int_equal(weft_co_cancel(c), 0);
    weft_co_release(c);

    /* Join with a timeout. */
    assert_int_equal(weft_co_spawn(&c, sleeper, (void *)200, NULL), 0);
    assert_int_equal(weft_co_join(c, 0, NULL), -EAGAIN);
    assert_int_equal(weft_co_join(c, 20, NULL), -ETIMEDOUT);
    assert_int_equal(weft_co_join(c, -1, NULL), 0);
    weft_co_release(c);

    /* Cancel: the blocked call returns -ECANCELED, cleanup runs. */
    cleanup_done = 0;
    assert_int_equal(weft_co_spawn(&c, cancellable, NULL, NULL), 0);
    assert_int_equal(weft_co_sleep(10), 0);
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_co_cancel(c), 0);
    assert_int_equal(weft_co_join(c, -1, &r), 0);
    assert_true(weft_now_ms() - t0 < 1000);
    assert_int_equal(r, -ECANCELED);
    assert_int_equal(cleanup_done, 1);
    weft_co_release(c);

    /* Join of self. */
    assert_int_equal(weft_co_join(weft_co_self(), 0, NULL), -EDEADLK);
    assert_true(weft_co_id() > 0);
    assert_int_equal(weft_co_get_id(weft_co_self()), weft_co_id());

    /* Many joiners of one coroutine all wake. */
    weft_co *target, *joiners[5];
    assert_int_equal(weft_co_spawn(&target, sleeper, (void *)30, NULL), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            weft_co_spawn(&joiners[i], waits_forever, target, NULL), 0);
    assert_int_equal(weft_co_join_all(joiners, 5, -1), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(weft_co_join(joiners[i], 0, &r), 0);
        assert_int_equal(r, 0); /* each join of target returned 0 */
        weft_co_release(joiners[i]);
    }
    assert_int_equal(weft_co_join(target, -1, NULL), 0);
    weft_co_release(target);
    return 3;
}

static void test_join_cancel(void **state)
{
    (void)state;
    assert_int_equal(run(join_main, NULL), 3);
}

/* ---- switch
 * ------------------------------------------------------------------ */

static weft_co *eat_co, *play_co;
static char steps[64];

static int eat(void *arg)
{
    (void)arg;
    intptr_t v = 0;
    strcat(steps, "e1 ");
    assert_int_equal(weft_co_switch(play_co, 10, &v), 0);
    assert_int_equal(v, 20);
    strcat(steps, "e2 ");
    assert_int_equal(weft_co_switch(play_co, 30, &v), 0);
    return 0;
}

static int play(void *arg)
{
    (void)arg;
    intptr_t v = 0;
    strcat(steps, "p1 ");
    assert_int_equal(weft_co_switch(eat_co, 20, &v), 0);
    assert_int_equal(v, 30);
    strcat(steps, "p2 ");
    return 0;
}

static int switch_main(void *arg)
{
    (void)arg;
    steps[0] = 0;
    assert_int_equal(weft_co_spawn(&eat_co, eat, NULL, NULL), 0);
    assert_int_equal(weft_co_spawn(&play_co, play, NULL, NULL), 0);
    assert_int_equal(weft_co_switch(weft_co_self(), 0, NULL), -EDEADLK);
    assert_int_equal(weft_co_switch(NULL, 0, NULL), -EINVAL);
    weft_co *both[2] = {eat_co, play_co};
    assert_int_equal(weft_co_join_all(both, 2, -1), 0);
    /* A finished one cannot be switched to; a sleeping one is not
     * disturbed. */
    assert_int_equal(weft_co_switch(eat_co, 0, NULL), -EINVAL);
    weft_co *s;
    assert_int_equal(weft_co_spawn(&s, sleeper, (void *)20, NULL), 0);
    weft_co_yield();
    assert_int_equal(weft_co_switch(s, 0, NULL), -EINVAL);
    assert_int_equal(weft_co_join(s, -1, NULL), 0);
    weft_co_release(s);
    weft_co_release(eat_co);
    weft_co_release(play_co);
    return 0;
}

static void test_switch(void **state)
{
    (void)state;
    run(switch_main, NULL);
    assert_string_equal(steps, "e1 p1 e2 p2 ");
    assert_int_equal(weft_co_switch(NULL, 0, NULL), -EPERM);
}

/* ---- deadlock
 * ----------------------------------------------------------------- */

static int deadlock_main(void *arg)
{
    (void)arg;
    /* This coroutine and a child join each other: nothing can wake
     * either. The scheduler cancels both. */
    weft_co *c;
    assert_int_equal(weft_co_spawn(&c, waits_forever, weft_co_self(), NULL), 0);
    int rc = weft_co_join(c, -1, NULL);
    weft_co_release(c);
    return rc;
}

static void test_deadlock(void **state)
{
    (void)state;
    int result = 0;
    assert_int_equal(weft_co_run(deadlock_main, NULL, NULL, &result), -EDEADLK);
    /* Either its join was cancelled, or the child, cancelled first,
     * finished - and then the join succeeded. */
    assert_true(result == -ECANCELED || result == 0);
}

/* ---- I/O
 * ------------------------------------------------------------------------ */

static int tcp_listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 128), 0);
    socklen_t len = sizeof *addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

static int echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = weft_co_recv(fd, buf, sizeof buf, 0, 5000);
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = weft_co_send(fd, buf + off, (size_t)(n - off), 0, 5000);
            if (w < 0)
                goto out;
            off += w;
        }
    }
out:
    close(fd);
    return 0;
}

static int echo_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int c = weft_co_accept(lfd, NULL, NULL, -1);
        if (c < 0)
            return c == -ECANCELED ? 0 : c;
        weft_co_spawn(NULL, echo_conn, (void *)(intptr_t)c, NULL);
    }
}

struct client_arg {
    struct sockaddr_in addr;
    int id;
    int ok;
};

static int echo_client(void *arg)
{
    struct client_arg *ca = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (weft_co_connect(fd, (struct sockaddr *)&ca->addr, sizeof ca->addr,
                        5000) != 0) {
        close(fd);
        return -1;
    }
    char msg[64], back[64];
    int len = snprintf(msg, sizeof msg, "hello from %d", ca->id);
    for (int round = 0; round < 5; round++) {
        if (weft_co_send(fd, msg, (size_t)len, 0, 5000) != len)
            break;
        size_t got = 0;
        while (got < (size_t)len) {
            ssize_t n =
                weft_co_recv(fd, back + got, (size_t)len - got, 0, 5000);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got != (size_t)len || memcmp(msg, back, (size_t)len) != 0)
            break;
        ca->ok++;
    }
    close(fd);
    return 0;
}

enum { NCLIENTS = 300 };

static int io_main(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = tcp_listener(&addr);
    weft_co *server;
    assert_int_equal(
        weft_co_spawn(&server, echo_server, (void *)(intptr_t)lfd, NULL), 0);
    static struct client_arg cas[NCLIENTS];
    weft_co *clients[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        cas[i] = (struct client_arg){.addr = addr, .id = i};
        assert_int_equal(weft_co_spawn(&clients[i], echo_client, &cas[i], NULL),
                         0);
    }
    assert_int_equal(weft_co_join_all(clients, NCLIENTS, 20000), 0);
    for (int i = 0; i < NCLIENTS; i++) {
        assert_int_equal(cas[i].ok, 5);
        weft_co_release(clients[i]);
    }
    /* The server blocks in accept until cancelled. */
    assert_int_equal(weft_co_cancel(server), 0);
    int r = -1;
    assert_int_equal(weft_co_join(server, -1, &r), 0);
    assert_int_equal(r, 0);
    weft_co_release(server);
    close(lfd);
    return 0;
}

static void test_io_echo(void **state)
{
    (void)state;
    run(io_main, NULL);
}

/* A peer that stalls: reads and writes time out, on time. */
static int stall_main(void *arg)
{
    (void)arg;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    static char buf[65536]; /* not on a 64 KiB stack */
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_co_read(sv[0], buf, 1, 100), -ETIMEDOUT);
    int64_t dt = weft_now_ms() - t0;
    assert_true(dt >= 100 && dt < 2000);
    assert_int_equal(weft_co_read(sv[0], buf, 1, 0), -EAGAIN);
    /* Fill the peer's buffer: the write blocks, then times out. */
    memset(buf, 'x', sizeof buf);
    ssize_t n;
    while ((n = weft_co_write(sv[0], buf, sizeof buf, 0)) > 0)
        ;
    assert_int_equal(n, -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_co_write(sv[0], buf, sizeof buf, 100), -ETIMEDOUT);
    assert_true(weft_now_ms() - t0 >= 100);
    /* A reader and a writer wait on one descriptor at once. */
    assert_int_equal(weft_co_wait_fd(sv[0], WEFT_CO_READ | WEFT_CO_WRITE, 50),
                     -ETIMEDOUT);
    close(sv[0]);
    close(sv[1]);
    /* End of file (a fresh pair: closing a socket with unread data is a
     * reset, not an end of file). */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(weft_co_read(sv[0], buf, 1, 1000), 0);
    close(sv[0]);
    /* Bad descriptors. */
    assert_int_equal(weft_co_wait_fd(-1, WEFT_CO_READ, 0), -EBADF);
    assert_int_equal(weft_co_wait_fd(0, 0, 0), -EINVAL);
    assert_int_equal(weft_co_read(12345, buf, 1, 0), -EBADF);
    return 0;
}

static void test_io_stall(void **state)
{
    (void)state;
    run(stall_main, NULL);
    /* Outside a scheduler the calls block the thread, with the same
     * timeouts. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char c;
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_co_recv(sv[0], &c, 1, 0, 50), -ETIMEDOUT);
    assert_true(weft_now_ms() - t0 >= 50);
    assert_int_equal(weft_co_send(sv[1], "z", 1, 0, 50), 1);
    assert_int_equal(weft_co_read(sv[0], &c, 1, 50), 1);
    assert_int_equal(c, 'z');
    close(sv[0]);
    close(sv[1]);
}

/* connect: refused at once on loopback; sendfile to a socket. */
static int connect_main(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = tcp_listener(&addr);
    close(lfd); /* nobody listens there now */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(
        weft_co_connect(fd, (struct sockaddr *)&addr, sizeof addr, 1000),
        -ECONNREFUSED);
    close(fd);

    char path[] = "/tmp/weft-co-sendfile-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    unlink(path);
    static char data[200000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 13);
    assert_int_equal(write(file, data, sizeof data), sizeof data);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    static char got[sizeof data];
    size_t rcvd = 0;
    off_t off = 0;
    /* Send and receive in turns: the socket buffer is smaller than the
     * file, so sendfile must wait for the reader. */
    while (rcvd < sizeof data) {
        if ((size_t)off < sizeof data) {
            ssize_t n = weft_co_sendfile(sv[0], file, &off,
                                         sizeof data - (size_t)off, 0);
            assert_true(n > 0 || n == -EAGAIN);
        }
        ssize_t n = weft_co_read(sv[1], got + rcvd, sizeof got - rcvd, 1000);
        assert_true(n > 0);
        rcvd += (size_t)n;
    }
    assert_memory_equal(got, data, sizeof data);
    close(sv[0]);
    close(sv[1]);
    close(file);
    return 0;
}

static void test_connect_sendfile(void **state)
{
    (void)state;
    run(connect_main, NULL);
}

/* ---- many coroutines, bounded memory
 * -------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int woke;
static long rss_peak;

static int nap(void *arg)
{
    weft_co_sleep((int)(intptr_t)arg);
    woke++;
    return 0;
}

enum { MANY = 100000 };

static int many_main(void *arg)
{
    (void)arg;
    long before = rss_kib();
    woke = 0;
    for (int i = 0; i < MANY; i++)
        assert_int_equal(
            weft_co_spawn(NULL, nap, (void *)(intptr_t)(200 + i % 100), NULL),
            0);
    /* Let them all start and go to sleep. */
    weft_co_yield();
    rss_peak = rss_kib() - before;
    return 0;
}

static void test_many(void **state)
{
    (void)state;
    run(many_main, NULL);
    assert_int_equal(woke, MANY);
    /* Each sleeping coroutine touched about a page of its stack, plus its
     * handle: well under 12 KiB each. */
    print_message("100,000 sleeping coroutines: %ld KiB resident, %.1f KiB "
                  "each\n",
                  rss_peak, (double)rss_peak / MANY);
    /* (AddressSanitizer's shadow memory and redzones triple it.) */
    assert_true(rss_peak < (long)MANY * (WEFT__CO_ASAN ? 40 : 12));
    /* Scheduler gone: its stacks are unmapped. */
    assert_true(rss_kib() < rss_peak + 200000);
}

/* ---- stack overflow
 * --------------------------------------------------------------- */

static int recurse(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    return n > 0 ? recurse(n + 1) + pad[0] : 0;
}

static int overflow(void *arg)
{
    (void)arg;
    return recurse(1);
}

static int overflow_main(void *arg)
{
    (void)arg;
    weft_co_opts o = {.stack_size = WEFT_CO_STACK_MIN};
    weft_co *c;
    assert_int_equal(weft_co_spawn(&c, overflow, NULL, &o), 0);
    weft_co_join(c, -1, NULL);
    return 0;
}

static void test_stack_overflow(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* Mode 1: guard pages as on kernels before 6.13 (mprotect). */
            if (mode == 1)
                weft__stack_force_mprotect();
            /* Under AddressSanitizer the overflow is reported by it (exit
             * status), elsewhere the guard page raises SIGSEGV. */
            signal(SIGSEGV, SIG_DFL);
            int rc = weft_co_run(overflow_main, NULL, NULL, NULL);
            _exit(rc == 0 ? 0 : 2);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        /* It must not have finished normally: the guard stopped it. */
        assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (WIFSIGNALED(st))
            assert_int_equal(WTERMSIG(st), SIGSEGV);
    }
}

/* ---- a handle of another thread's scheduler
 * ----------------------------------- */

static weft_co *foreign;

static int idle(void *arg)
{
    (void)arg;
    return weft_co_sleep(300);
}

static int foreign_main(void *arg)
{
    (void)arg;
    assert_int_equal(weft_co_spawn(&foreign, idle, NULL, NULL), 0);
    return weft_co_join(foreign, -1, NULL);
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    weft_co_run(foreign_main, NULL, NULL, NULL);
    return NULL;
}

static int other_main(void *arg)
{
    (void)arg;
    while (foreign == NULL)
        weft_co_sleep(1);
    assert_int_equal(weft_co_join(foreign, 0, NULL), -EINVAL);
    assert_int_equal(weft_co_cancel(foreign), -EINVAL);
    assert_int_equal(weft_co_switch(foreign, 0, NULL), -EINVAL);
    return 0;
}

static void test_foreign_handle(void **state)
{
    (void)state;
    pthread_t t;
    foreign = NULL;
    assert_int_equal(pthread_create(&t, NULL, foreign_thread, NULL), 0);
    run(other_main, NULL);
    pthread_join(t, NULL);
    weft_co_release(foreign);
}

/* ---- bad input
 * ---------------------------------------------------------------------- */

static int bad_main(void *arg)
{
    (void)arg;
    weft_co_opts small = {.stack_size = WEFT_CO_STACK_MIN - 1};
    assert_int_equal(weft_co_spawn(NULL, returns, NULL, &small), -EINVAL);
    assert_int_equal(weft_co_spawn(NULL, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(weft_co_join(NULL, 0, NULL), -EINVAL);
    assert_int_equal(weft_co_cancel(NULL), -EINVAL);
    /* A scheduler per thread: not twice. */
    assert_int_equal(weft_co_run(returns, NULL, NULL, NULL), -EBUSY);
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    run(bad_main, NULL);
    assert_int_equal(weft_co_run(NULL, NULL, NULL, NULL), -EINVAL);
    weft_co_opts small = {.stack_size = 100};
    assert_int_equal(weft_co_run(returns, NULL, &small, NULL), -EINVAL);
    /* Outside a scheduler. */
    assert_int_equal(weft_co_spawn(NULL, returns, NULL, NULL), -EPERM);
    assert_int_equal(weft_co_yield(), -EPERM);
    assert_null(weft_co_self());
    assert_int_equal(weft_co_id(), 0);
    assert_int_equal(weft_co_cancelled(), 0);
    weft_co_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_join_cancel),
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_deadlock),
        cmocka_unit_test(test_io_echo),
        cmocka_unit_test(test_io_stall),
        cmocka_unit_test(test_connect_sendfile),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_stack_overflow),
        cmocka_unit_test(test_foreign_handle),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
