/* test_shared_queue.c - the shared-memory queue between processes: order,
 * sizes and wrap-around, bounds and timeouts, close with many consumers,
 * joinable tasks, zero-copy reserve/peek (and deaths between their two
 * calls), a queue found by name from an unrelated process, bad input. */
#include <errno.h>
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

#include <weft/weft.h>

static weft_queue *make(size_t max_bytes, size_t max_items, bool joinable)
{
    weft_queue_opts o = {
        .max_bytes = max_bytes, .max_items = max_items, .joinable = joinable};
    weft_queue *q;

    assert_int_equal(weft_queue_create(&q, WEFT_SHARED, &o), 0);
    return q;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i * 7);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 31 + i * 7))
            return 0;
    return 1;
}

static void wait_ok(pid_t pid)
{
    int status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- Basics -------------------------------------------------------------- */

static void test_basics(void **state)
{
    weft_queue *q = make(4096, 0, false);
    char buf[64];

    (void)state;
    assert_int_equal(weft_queue_empty(q), 1);
    assert_int_equal(weft_queue_qsize(q), 0);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(weft_queue_put(q, "one", 3, 0), 0);
    assert_int_equal(weft_queue_put(q, "two!", 4, -1), 0);
    assert_int_equal(weft_queue_qsize(q), 2);
    assert_int_equal(weft_queue_empty(q), 0);
    assert_int_equal(weft_queue_next_len(q, 0), 3);
    assert_int_equal(weft_queue_get(q, buf, 2, 0), -ENOBUFS);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 3);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 100), 4);
    assert_memory_equal(buf, "two!", 4);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 50), -ETIMEDOUT);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void test_bad_input(void **state)
{
    weft_queue_opts lifo = {.kind = WEFT_QUEUE_LIFO};
    weft_queue_opts big = {.max_bytes = 4096, .max_msg = 4096};
    weft_queue *q;
    char buf[8];

    (void)state;
    assert_int_equal(weft_queue_create(&q, WEFT_SHARED, &lifo), -EINVAL);
    assert_int_equal(weft_queue_create(&q, WEFT_SHARED, &big), -EINVAL);
    q = make(4096, 0, false);
    assert_int_equal(weft_queue_put(q, "x", 0, 0), -EINVAL);
    assert_int_equal(weft_queue_put(q, NULL, 1, 0), -EINVAL);
    assert_int_equal(weft_queue_put(NULL, "x", 1, 0), -EINVAL);
    /* Larger than half the ring: could never fit, refused at once. */
    {
        static char huge[4096];
        assert_int_equal(weft_queue_put(q, huge, 2041, -1), -EMSGSIZE);
        assert_int_equal(weft_queue_put(q, huge, 2040, 0), 0);
        assert_int_equal(weft_queue_get(q, huge, sizeof huge, 0), 2040);
    }
    assert_int_equal(weft_queue_put_prio(q, 1, "x", 1, 0), -EINVAL);
    assert_int_equal(weft_queue_task_done(q), -EINVAL); /* not joinable */
    assert_int_equal(weft_queue_commit(q), -EPERM);
    assert_int_equal(weft_queue_release(q), -EPERM);
    assert_int_equal(weft_queue_get(q, NULL, 8, 0), -EINVAL);
    assert_int_equal(weft_queue_close(q), 0);
    assert_int_equal(weft_queue_put(q, "x", 1, 0), WEFT_ECLOSED);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, -1), WEFT_ECLOSED);
    assert_int_equal(weft_queue_destroy(q), 0);
    assert_int_equal(weft_queue_destroy(NULL), 0);
}

/* Random sizes through a small ring, many times around it. */
static void test_wrap_around(void **state)
{
    weft_queue *q = make(4096, 0, false);
    unsigned char in[1200], out[1200];
    unsigned seed = 1, sent = 0, got = 0;
    size_t lens[64];
    int i, n;

    (void)state;
    for (i = 0; i < 20000; i++) {
        size_t len = 1 + (size_t)rand_r(&seed) % 1200;
        fill(in, len, sent);
        if (weft_queue_put(q, in, len, 0) == 0) {
            lens[sent % 64] = len;
            sent++;
        }
        if (rand_r(&seed) % 3 == 0 || sent - got > 60) {
            while (got < sent && rand_r(&seed) % 4 != 0) {
                n = weft_queue_get(q, out, sizeof out, 0);
                assert_int_equal(n, (int)lens[got % 64]);
                assert_true(check(out, (size_t)n, got));
                got++;
            }
        }
    }
    while (got < sent) {
        n = weft_queue_get(q, out, sizeof out, 0);
        assert_int_equal(n, (int)lens[got % 64]);
        assert_true(check(out, (size_t)n, got));
        got++;
    }
    assert_true(sent > 10000);
    assert_int_equal(weft_queue_qsize(q), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void test_bounded(void **state)
{
    weft_queue *q = make(4096, 3, false);
    char buf[8];
    int64_t t0;
    pid_t pid;

    (void)state;
    assert_int_equal(weft_queue_put(q, "a", 1, 0), 0);
    assert_int_equal(weft_queue_put(q, "b", 1, 0), 0);
    assert_int_equal(weft_queue_put(q, "c", 1, 0), 0);
    assert_int_equal(weft_queue_full(q), 1);
    assert_int_equal(weft_queue_put(q, "d", 1, 0), -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_queue_put(q, "d", 1, 100), -ETIMEDOUT);
    assert_in_range(weft_now_ms() - t0, 95, 2000);
    /* A consumer in another process makes room; the put goes through. */
    pid = fork();
    if (pid == 0) {
        weft_sleep_ms(50);
        _exit(weft_queue_get(q, buf, sizeof buf, -1) == 1 ? 0 : 1);
    }
    assert_int_equal(weft_queue_put(q, "d", 1, 5000), 0);
    wait_ok(pid);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'b');
    assert_int_equal(weft_queue_destroy(q), 0);

    /* Bounded by bytes: a 4 KiB ring holds less than 4 KiB of records. */
    q = make(4096, 0, false);
    {
        char big[1000] = {0};
        int n = 0;
        while (weft_queue_put(q, big, sizeof big, 0) == 0)
            n++;
        assert_int_equal(n, 4);                  /* 4 x 1008 bytes */
        assert_int_equal(weft_queue_full(q), 0); /* a small one fits */
    }
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Many consumers and close -------------------------------------------- */

static void test_close_many_consumers(void **state)
{
    enum { CONSUMERS = 8, N = 4000 };
    weft_queue *q = make(1 << 16, 0, false);
    weft_array *seen;
    pid_t pids[CONSUMERS];
    int64_t total = 0, v;
    int i;

    (void)state;
    assert_int_equal(
        weft_array_create(&seen, WEFT_SHARED, WEFT_INT64, CONSUMERS, 0, false),
        0);
    for (i = 0; i < CONSUMERS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            uint32_t m;
            int rc;
            while ((rc = weft_queue_get(q, &m, sizeof m, 10000)) == 4)
                weft_array_add(seen, (size_t)i, 1, NULL);
            _exit(rc == WEFT_ECLOSED ? 0 : 1);
        }
    }
    for (uint32_t m = 0; m < N; m++)
        assert_int_equal(weft_queue_put(q, &m, sizeof m, -1), 0);
    assert_int_equal(weft_queue_close(q), 0);
    assert_int_equal(weft_queue_closed(q), 1);
    for (i = 0; i < CONSUMERS; i++) {
        wait_ok(pids[i]);
        weft_array_get_i64(seen, (size_t)i, &v);
        total += v;
    }
    assert_int_equal(total, N);
    assert_int_equal(weft_queue_destroy(q), 0);
    weft_array_destroy(seen);
}

/* ---- Joinable --------------------------------------------------------------
 */

static void test_joinable(void **state)
{
    weft_queue *q = make(4096, 0, true);
    int i;
    pid_t pid;

    (void)state;
    assert_int_equal(weft_queue_join(q, 0), 0); /* nothing put yet */
    assert_int_equal(weft_queue_task_done(q), -EOVERFLOW);
    for (i = 0; i < 10; i++)
        assert_int_equal(weft_queue_put(q, &i, sizeof i, 0), 0);
    assert_int_equal(weft_queue_join(q, 0), -EAGAIN);
    assert_int_equal(weft_queue_join(q, 50), -ETIMEDOUT);
    pid = fork();
    if (pid == 0) {
        int m;
        for (i = 0; i < 10; i++) {
            if (weft_queue_get(q, &m, sizeof m, -1) != sizeof m ||
                weft_queue_task_done(q) != 0)
                _exit(1);
            weft_sleep_ms(5);
        }
        _exit(weft_queue_task_done(q) == -EOVERFLOW ? 0 : 1);
    }
    assert_int_equal(weft_queue_join(q, 5000), 0);
    wait_ok(pid);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Zero copy -------------------------------------------------------------
 */

static void test_zero_copy(void **state)
{
    weft_queue *q = make(1 << 16, 0, false);
    const void *msg;
    void *where;
    char buf[100];
    int fds[2], status;
    pid_t pid;
    char c;

    (void)state;
    assert_int_equal(weft_queue_reserve(q, 5, &where, 0), 0);
    memcpy(where, "hello", 5);
    assert_int_equal(weft_queue_qsize(q), 0); /* not visible yet */
    assert_int_equal(weft_queue_commit(q), 0);
    assert_int_equal(weft_queue_reserve(q, 3, &where, 0), 0);
    memcpy(where, "bad", 3);
    assert_int_equal(weft_queue_cancel(q), 0);
    assert_int_equal(weft_queue_qsize(q), 1);

    assert_int_equal(weft_queue_peek(q, &msg, 0), 5);
    assert_memory_equal(msg, "hello", 5);
    assert_int_equal(weft_queue_unpeek(q), 0); /* stays first */
    assert_int_equal(weft_queue_peek(q, &msg, 0), 5);
    assert_int_equal(weft_queue_release(q), 0);
    assert_int_equal(weft_queue_qsize(q), 0);

    /* Killed between reserve and commit: nothing appears, and the next
     * producer goes on. */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        if (weft_queue_reserve(q, 50, &where, -1) < 0)
            _exit(1);
        memset(where, 'X', 25); /* half written */
        if (write(fds[1], "r", 1) != 1)
            _exit(1);
        pause();
    }
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_int_equal(weft_queue_put(q, "after", 5, 1000), 0);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "after", 5);

    /* Killed between peek and release: the message stays for the next. */
    assert_int_equal(weft_queue_put(q, "keep", 4, 0), 0);
    pid = fork();
    if (pid == 0) {
        if (weft_queue_peek(q, &msg, -1) != 4 || write(fds[1], "p", 1) != 1)
            _exit(1);
        pause();
    }
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 1000), 4);
    assert_memory_equal(buf, "keep", 4);
    assert_int_equal(weft_queue_qsize(q), 0);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Found by name ---------------------------------------------------------
 */

static char arena_name[64];

/* Whatever happened in the test, leave nothing in /dev/shm. */
static int unlink_arena(void **state)
{
    (void)state;
    if (arena_name[0])
        weft_region_unlink(arena_name);
    return 0;
}

static void test_named_arena(void **state)
{
    weft_queue_opts o = {.max_bytes = 1 << 16};
    char *name = arena_name, buf[16];
    weft_arena *a;
    weft_queue *q;
    pid_t pid;

    (void)state;
    snprintf(name, sizeof arena_name, "weft-test-queue-%d", (int)getpid());
    assert_int_equal(weft_arena_create_named(&a, name, 1 << 20, 0600), 0);
    assert_int_equal(weft_queue_create(&q, a, &o), 0);
    assert_int_equal(weft_arena_set_root(a, q), 0);
    pid = fork();
    if (pid == 0) {
        /* As an unrelated process would: by name, not by the pointer. */
        weft_arena *mine;
        weft_queue *found;
        if (weft_arena_open(&mine, name) < 0)
            _exit(1);
        found = weft_arena_root(mine);
        _exit(found && weft_queue_put(found, "by name", 7, 1000) == 0 ? 0 : 2);
    }
    wait_ok(pid);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 1000), 7);
    assert_memory_equal(buf, "by name", 7);
    assert_int_equal(weft_queue_destroy(q), 0);
    assert_int_equal(weft_arena_close(a), 0);
    assert_int_equal(weft_region_unlink(name), 0);
}

static void test_destroy_with_waiter(void **state)
{
    weft_queue *q = make(4096, 0, false);
    char buf[8];
    pid_t pid;

    (void)state;
    pid = fork();
    if (pid == 0)
        _exit(weft_queue_get(q, buf, sizeof buf, 5000) == 1 ? 0 : 1);
    weft_sleep_ms(100);
    assert_int_equal(weft_queue_destroy(q), -EBUSY);
    assert_int_equal(weft_queue_put(q, "x", 1, 0), 0);
    wait_ok(pid);
    assert_int_equal(weft_queue_destroy(q), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_close_many_consumers),
        cmocka_unit_test(test_joinable),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test_teardown(test_named_arena, unlink_arena),
        cmocka_unit_test(test_destroy_with_waiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
