/* test_dict.c - weft_dict: get/set/delete/contains/len, key and value
 * limits, a full dict, tombstone reuse under churn, update and add_i64,
 * foreach and clear; exact counts with 100 processes and with 8 threads;
 * and processes SIGKILLed holding the lock - inside an update function,
 * mid-commit, at random instants - after which the next call gets
 * WEFT_OWNERDEAD and finds every entry whole. */
#include <errno.h>
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

#include <weft/weft.h>

#include "unit/fork_helpers.h"

#include "sync/dict_int.h"

/* ---- Helpers ------------------------------------------------------------ */

static int64_t get_i64(weft_dict *d, const char *key)
{
    int64_t v = 0;

    assert_int_equal(weft_dict_get(d, key, &v, sizeof v, NULL), 8);
    return v;
}

/* ---- Basics
 * ------------------------------------------------------------------ */

static void test_create_errors(void **state)
{
    weft_dict *d = (weft_dict *)&d;

    (void)state;
    assert_int_equal(weft_dict_create(NULL, NULL, 1, 1, 1), -EINVAL);
    assert_int_equal(weft_dict_create(&d, NULL, 0, 16, 16), -EINVAL);
    assert_null(d);
    assert_int_equal(weft_dict_create(&d, NULL, (1 << 24) + 1, 16, 16),
                     -EINVAL);
    assert_int_equal(weft_dict_create(&d, NULL, 8, 0, 16), -EINVAL);
    assert_int_equal(weft_dict_create(&d, NULL, 8, 4097, 16), -EINVAL);
    assert_int_equal(weft_dict_create(&d, NULL, 8, 16, (16 << 20) + 1),
                     -EINVAL);
    /* Within the limits, beyond the default arena's 64 MiB. */
    assert_int_equal(weft_dict_create(&d, WEFT_SHARED, 1 << 24, 4096, 16 << 20),
                     -ENOMEM);
    assert_int_equal(weft_dict_destroy(NULL), 0);

    /* The extremes that do fit. */
    assert_int_equal(weft_dict_create(&d, NULL, 1, 4096, 0), 0);
    assert_int_equal(weft_dict_set(d, "k", NULL, 0), 0);
    assert_int_equal(weft_dict_set(d, "k", "x", 1), -EMSGSIZE);
    assert_int_equal(weft_dict_add_i64(d, "n", 1, NULL), -EMSGSIZE);
    assert_int_equal(weft_dict_destroy(d), 0);
}

static void check_basics(weft_arena *where)
{
    weft_dict *d;
    char buf[64];
    size_t len = 0;
    int i;

    assert_int_equal(weft_dict_create(&d, where, 16, 32, 64), 0);
    assert_int_equal(weft_dict_len(d), 0);
    assert_int_equal(weft_dict_contains(d, "a"), 0);
    assert_int_equal(weft_dict_get(d, "a", buf, sizeof buf, &len), -ENOENT);
    assert_int_equal(weft_dict_delete(d, "a"), -ENOENT);

    assert_int_equal(weft_dict_set(d, "a", "apple", 5), 0);
    assert_int_equal(weft_dict_set(d, "b", "banana", 6), 0);
    assert_int_equal(weft_dict_set(d, "empty", NULL, 0), 0);
    assert_int_equal(weft_dict_len(d), 3);
    assert_int_equal(weft_dict_contains(d, "a"), 1);
    assert_int_equal(weft_dict_contains(d, "c"), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(weft_dict_get(d, "b", buf, sizeof buf, &len), 6);
    assert_int_equal(len, 6);
    assert_string_equal(buf, "banana");
    assert_int_equal(weft_dict_get(d, "empty", NULL, 0, &len), 0);
    assert_int_equal(len, 0);

    /* Too small a buffer: nothing copied, the length told. */
    memset(buf, 'z', sizeof buf);
    len = 0;
    assert_int_equal(weft_dict_get(d, "b", buf, 5, &len), -ENOBUFS);
    assert_int_equal(len, 6);
    assert_int_equal(buf[0], 'z');
    assert_int_equal(weft_dict_get(d, "b", NULL, 0, &len), -ENOBUFS);
    assert_int_equal(weft_dict_get(d, "b", buf, 6, NULL), 6);

    /* Replace, longer then shorter. */
    assert_int_equal(weft_dict_set(d, "a", "apricots", 8), 0);
    assert_int_equal(weft_dict_get(d, "a", buf, sizeof buf, &len), 8);
    assert_memory_equal(buf, "apricots", 8);
    assert_int_equal(weft_dict_set(d, "a", "fig", 3), 0);
    assert_int_equal(weft_dict_get(d, "a", buf, sizeof buf, &len), 3);
    assert_memory_equal(buf, "fig", 3);
    assert_int_equal(weft_dict_len(d), 3);

    assert_int_equal(weft_dict_delete(d, "a"), 0);
    assert_int_equal(weft_dict_delete(d, "a"), -ENOENT);
    assert_int_equal(weft_dict_contains(d, "a"), 0);
    assert_int_equal(weft_dict_get(d, "b", buf, sizeof buf, NULL), 6);
    assert_int_equal(weft_dict_len(d), 2);

    /* Keys that share prefixes and hash neighbourhoods stay apart. */
    for (i = 0; i < 13; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(weft_dict_set(d, k, k, strlen(k)), 0);
    }
    for (i = 0; i < 13; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(weft_dict_get(d, k, buf, sizeof buf, &len),
                         (int)strlen(k));
        assert_memory_equal(buf, k, len);
    }
    assert_int_equal(weft_dict_len(d), 15);
    assert_int_equal(weft_dict_destroy(d), 0);
}

static void test_basics_private(void **state)
{
    (void)state;
    check_basics(NULL);
}

static void test_basics_shared(void **state)
{
    (void)state;
    check_basics(WEFT_SHARED);
}

static int nop_update(void *buf, size_t *len, size_t max_len, bool exists,
                      void *arg)
{
    (void)buf, (void)len, (void)max_len, (void)exists, (void)arg;
    return 0;
}

static int nop_foreach(const char *key, const void *val, size_t len, void *arg)
{
    (void)key, (void)val, (void)len, (void)arg;
    return 0;
}

static void test_bad_input(void **state)
{
    weft_dict *d;
    char buf[8];

    (void)state;
    assert_int_equal(weft_dict_create(&d, NULL, 4, 8, 8), 0);
    assert_int_equal(weft_dict_get(NULL, "k", buf, 8, NULL), -EINVAL);
    assert_int_equal(weft_dict_get(d, NULL, buf, 8, NULL), -EINVAL);
    assert_int_equal(weft_dict_get(d, "", buf, 8, NULL), -EINVAL);
    assert_int_equal(weft_dict_get(d, "k", NULL, 8, NULL), -EINVAL);
    assert_int_equal(weft_dict_set(NULL, "k", "v", 1), -EINVAL);
    assert_int_equal(weft_dict_set(d, NULL, "v", 1), -EINVAL);
    assert_int_equal(weft_dict_set(d, "", "v", 1), -EINVAL);
    assert_int_equal(weft_dict_set(d, "k", NULL, 1), -EINVAL);
    assert_int_equal(weft_dict_delete(d, ""), -EINVAL);
    assert_int_equal(weft_dict_delete(NULL, "k"), -EINVAL);
    assert_int_equal(weft_dict_contains(d, NULL), -EINVAL);
    assert_int_equal(weft_dict_contains(NULL, "k"), -EINVAL);
    assert_int_equal(weft_dict_len(NULL), -EINVAL);
    assert_int_equal(weft_dict_update(d, "k", NULL, NULL), -EINVAL);
    assert_int_equal(weft_dict_update(NULL, "k", nop_update, NULL), -EINVAL);
    assert_int_equal(weft_dict_update(d, "", nop_update, NULL), -EINVAL);
    assert_int_equal(weft_dict_add_i64(NULL, "k", 1, NULL), -EINVAL);
    assert_int_equal(weft_dict_foreach(d, NULL, NULL), -EINVAL);
    assert_int_equal(weft_dict_foreach(NULL, nop_foreach, NULL), -EINVAL);
    assert_int_equal(weft_dict_clear(NULL), -EINVAL);
    assert_int_equal(weft_dict_len(d), 0); /* nothing slipped in */
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* ---- Limits
 * ------------------------------------------------------------------ */

static int grow_update(void *buf, size_t *len, size_t max_len, bool exists,
                       void *arg)
{
    (void)buf, (void)exists, (void)arg;
    *len = max_len + 1;
    return 0;
}

static void test_limits(void **state)
{
    char key[40], val[40], buf[40];
    weft_dict *d;
    size_t len;

    (void)state;
    assert_int_equal(weft_dict_create(&d, NULL, 4, 10, 20), 0);
    memset(key, 'k', sizeof key);
    memset(val, 'v', sizeof val);

    key[10] = '\0'; /* exactly max_key */
    assert_int_equal(weft_dict_set(d, key, val, 20), 0);
    assert_int_equal(weft_dict_get(d, key, buf, sizeof buf, &len), 20);
    assert_memory_equal(buf, val, 20);
    assert_int_equal(weft_dict_set(d, key, val, 21), -EMSGSIZE);
    assert_int_equal(weft_dict_update(d, key, grow_update, NULL), -EMSGSIZE);
    assert_int_equal(weft_dict_get(d, key, buf, sizeof buf, &len), 20);

    key[10] = 'k';
    key[11] = '\0'; /* one over */
    assert_int_equal(weft_dict_set(d, key, val, 1), -ENAMETOOLONG);
    assert_int_equal(weft_dict_get(d, key, buf, sizeof buf, &len),
                     -ENAMETOOLONG);
    assert_int_equal(weft_dict_delete(d, key), -ENAMETOOLONG);
    assert_int_equal(weft_dict_contains(d, key), -ENAMETOOLONG);
    assert_int_equal(weft_dict_update(d, key, nop_update, NULL), -ENAMETOOLONG);
    assert_int_equal(weft_dict_add_i64(d, key, 1, NULL), -ENAMETOOLONG);
    /* Not NUL-terminated within any sane bound: still only max_key + 1
     * bytes are looked at (the array is 40 bytes, all 'k'). */
    key[11] = 'k';
    assert_int_equal(weft_dict_contains(d, key), -ENAMETOOLONG);
    assert_int_equal(weft_dict_len(d), 1);
    assert_int_equal(weft_dict_destroy(d), 0);
}

static void test_full(void **state)
{
    weft_dict *d;
    char k[16];
    int i;

    (void)state;
    assert_int_equal(weft_dict_create(&d, NULL, 10, 8, 8), 0);
    for (i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(weft_dict_set(d, k, "v", 1), 0);
    }
    assert_int_equal(weft_dict_set(d, "new", "v", 1), -ENOSPC);
    assert_int_equal(weft_dict_add_i64(d, "new", 1, NULL), -ENOSPC);
    assert_int_equal(weft_dict_update(d, "new", nop_update, NULL), -ENOSPC);
    assert_int_equal(weft_dict_contains(d, "new"), 0);
    /* Existing keys can still change. */
    assert_int_equal(weft_dict_set(d, "k3", "vvvvvvvv", 8), 0);
    assert_int_equal(weft_dict_len(d), 10);
    assert_int_equal(weft_dict_delete(d, "k5"), 0);
    assert_int_equal(weft_dict_set(d, "new", "v", 1), 0);
    assert_int_equal(weft_dict_set(d, "newer", "v", 1), -ENOSPC);
    assert_int_equal(weft_dict_len(d), 10);
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* Insert and delete distinct keys many times in a nearly full dict: the
 * deleted slots are reused (never -ENOSPC), and lookups of the permanent
 * keys and of absent keys stay right throughout. */
static void check_churn(size_t capacity, int permanent, int rounds)
{
    weft_dict *d;
    char k[32];
    int64_t v;
    int i, j;

    assert_int_equal(weft_dict_create(&d, NULL, capacity, 24, 8), 0);
    for (i = 0; i < permanent; i++) {
        snprintf(k, sizeof k, "perm%d", i);
        v = i;
        assert_int_equal(weft_dict_set(d, k, &v, 8), 0);
    }
    for (j = 0; j < rounds; j++) {
        snprintf(k, sizeof k, "tmp%d", j);
        v = j;
        assert_int_equal(weft_dict_set(d, k, &v, 8), 0);
        assert_int_equal(get_i64(d, k), j);
        assert_int_equal(weft_dict_len(d), permanent + 1);
        snprintf(k, sizeof k, "tmp%d", j - 1);
        assert_int_equal(weft_dict_contains(d, k), 0);
        snprintf(k, sizeof k, "tmp%d", j);
        assert_int_equal(weft_dict_delete(d, k), 0);
        if (j % 997 == 0) {
            for (i = 0; i < permanent; i++) {
                snprintf(k, sizeof k, "perm%d", i);
                assert_int_equal(get_i64(d, k), i);
            }
        }
    }
    assert_int_equal(weft_dict_len(d), permanent);
    assert_int_equal(weft_dict_destroy(d), 0);
}

static void test_tombstone_reuse(void **state)
{
    (void)state;
    check_churn(1, 0, 2000);
    check_churn(16, 15, 20000);
    check_churn(1000, 999, 5000);
}

/* ---- Update and add_i64
 * --------------------------------------------------------- */

struct upd {
    int ret; /* what fn returns */
    bool seen_exists;
    size_t seen_len;
    size_t seen_max;
    char seen[32];
    weft_dict *d; /* to call back into, when set */
    int inner_rc;
};

static int record_update(void *buf, size_t *len, size_t max_len, bool exists,
                         void *arg)
{
    struct upd *u = arg;

    u->seen_exists = exists;
    u->seen_len = *len;
    u->seen_max = max_len;
    if (exists)
        memcpy(u->seen, buf, *len);
    if (u->d)
        u->inner_rc = weft_dict_len(u->d);
    /* Scribble, whatever the verdict: only a 0 may store it. */
    memcpy((char *)buf + *len, "!", 1);
    *len += 1;
    return u->ret;
}

static void test_update(void **state)
{
    struct upd u;
    weft_dict *d;
    char buf[32];
    size_t len;

    (void)state;
    assert_int_equal(weft_dict_create(&d, NULL, 4, 8, 16), 0);

    /* Absent key, store. */
    memset(&u, 0, sizeof u);
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), 0);
    assert_false(u.seen_exists);
    assert_int_equal(u.seen_len, 0);
    assert_int_equal(u.seen_max, 16);
    assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len), 1);
    assert_memory_equal(buf, "!", 1);

    /* Present key, store. */
    assert_int_equal(weft_dict_set(d, "k", "abc", 3), 0);
    memset(&u, 0, sizeof u);
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), 0);
    assert_true(u.seen_exists);
    assert_int_equal(u.seen_len, 3);
    assert_memory_equal(u.seen, "abc", 3);
    assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len), 4);
    assert_memory_equal(buf, "abc!", 4);

    /* A negative return aborts with that code; the entry is as it was,
     * though fn scribbled on its buffer. */
    u.ret = -EXDEV;
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), -EXDEV);
    assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len), 4);
    assert_memory_equal(buf, "abc!", 4);
    u.ret = -EXDEV;
    assert_int_equal(weft_dict_update(d, "absent", record_update, &u), -EXDEV);
    assert_int_equal(weft_dict_contains(d, "absent"), 0);

    /* Any other positive return is refused. */
    u.ret = 2;
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), -EINVAL);
    assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len), 4);

    /* 1 deletes; on an absent key it does nothing. */
    u.ret = 1;
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), 0);
    assert_int_equal(weft_dict_contains(d, "k"), 0);
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), 0);
    assert_int_equal(weft_dict_contains(d, "k"), 0);
    assert_int_equal(weft_dict_len(d), 0);

    /* Calling the dict from fn fails instead of hanging. */
    memset(&u, 0, sizeof u);
    u.d = d;
    assert_int_equal(weft_dict_update(d, "k", record_update, &u), 0);
    assert_int_equal(u.inner_rc, -EDEADLK);
    assert_int_equal(weft_dict_len(d), 1);
    assert_int_equal(weft_dict_destroy(d), 0);
}

static void test_add_i64(void **state)
{
    weft_dict *d;
    int64_t r = 0;

    (void)state;
    assert_int_equal(weft_dict_create(&d, NULL, 4, 8, 16), 0);
    assert_int_equal(weft_dict_add_i64(d, "n", 5, &r), 0);
    assert_int_equal(r, 5);
    assert_int_equal(weft_dict_add_i64(d, "n", -8, &r), 0);
    assert_int_equal(r, -3);
    assert_int_equal(weft_dict_add_i64(d, "n", 0, NULL), 0);
    assert_int_equal(get_i64(d, "n"), -3);
    assert_int_equal(weft_dict_add_i64(d, "max", INT64_MAX, NULL), 0);
    assert_int_equal(weft_dict_add_i64(d, "max", 1, &r), 0);
    assert_true(r == INT64_MIN);

    assert_int_equal(weft_dict_set(d, "s", "abc", 3), 0);
    r = 77;
    assert_int_equal(weft_dict_add_i64(d, "s", 1, &r), -EPROTO);
    assert_int_equal(r, 77); /* untouched on failure */
    assert_int_equal(weft_dict_get(d, "s", &r, sizeof r, NULL), 3);
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* ---- foreach and clear
 * ------------------------------------------------------- */

#define NKEYS 100

struct seen {
    int count[NKEYS];
    int calls;
    int stop_after; /* return 7 at this call (0: never) */
    weft_dict *d;
    int inner_rc;
};

static int visit(const char *key, const void *val, size_t len, void *arg)
{
    struct seen *s = arg;
    int i;

    if (sscanf(key, "key%d", &i) != 1 || i < 0 || i >= NKEYS)
        return -100;
    if (len != sizeof(int) || memcmp(val, &i, sizeof i) != 0)
        return -101;
    s->count[i]++;
    s->calls++;
    if (s->d)
        s->inner_rc = weft_dict_contains(s->d, "key0");
    if (s->stop_after && s->calls == s->stop_after)
        return 7;
    return 0;
}

static void test_foreach_clear(void **state)
{
    struct seen s;
    weft_dict *d;
    char k[16];
    int i;

    (void)state;
    assert_int_equal(weft_dict_create(&d, WEFT_SHARED, NKEYS, 16, 8), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(weft_dict_foreach(d, visit, &s), 0);
    assert_int_equal(s.calls, 0);

    for (i = 0; i < NKEYS; i++) {
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(weft_dict_set(d, k, &i, sizeof i), 0);
    }
    /* Some churn first, so tombstones lie among the entries. */
    for (i = 0; i < NKEYS; i += 3) {
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(weft_dict_delete(d, k), 0);
        assert_int_equal(weft_dict_set(d, k, &i, sizeof i), 0);
    }
    assert_int_equal(weft_dict_foreach(d, visit, &s), 0);
    assert_int_equal(s.calls, NKEYS);
    for (i = 0; i < NKEYS; i++)
        assert_int_equal(s.count[i], 1);

    memset(&s, 0, sizeof s);
    s.stop_after = 10;
    assert_int_equal(weft_dict_foreach(d, visit, &s), 7);
    assert_int_equal(s.calls, 10);

    memset(&s, 0, sizeof s);
    s.d = d;
    s.stop_after = 1;
    assert_int_equal(weft_dict_foreach(d, visit, &s), 7);
    assert_int_equal(s.inner_rc, -EDEADLK);

    assert_int_equal(weft_dict_clear(d), 0);
    assert_int_equal(weft_dict_len(d), 0);
    assert_int_equal(weft_dict_contains(d, "key1"), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(weft_dict_foreach(d, visit, &s), 0);
    assert_int_equal(s.calls, 0);
    /* Full capacity again after a clear. */
    for (i = 0; i < NKEYS; i++) {
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(weft_dict_set(d, k, &i, sizeof i), 0);
    }
    assert_int_equal(weft_dict_set(d, "one-more", "", 0), -ENOSPC);
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* ---- Exact counts under contention -------------------------------------- */

#define NPROC 100
#define NOPS  100

static int decrement_count(void *arg, int index)
{
    weft_dict *d = arg;
    char k[16];
    int i;

    snprintf(k, sizeof k, "p%d", index);
    for (i = 0; i < NOPS; i++) {
        if (weft_dict_add_i64(d, "count", -1, NULL) != 0)
            return 1;
        if (weft_dict_add_i64(d, k, 1, NULL) != 0)
            return 1;
    }
    return 0;
}

/* 100 processes each take "count" down 100 times (and count their own
 * key up): not one update is lost. */
static void test_processes_exact(void **state)
{
    weft_dict *d;
    int64_t v = NPROC * NOPS;
    char k[16];
    int i;

    (void)state;
    assert_int_equal(weft_dict_create(&d, WEFT_SHARED, NPROC + 1, 16, 8), 0);
    assert_int_equal(weft_dict_set(d, "count", &v, sizeof v), 0);
    assert_int_equal(run_children(NPROC, decrement_count, d), 0);
    assert_int_equal(get_i64(d, "count"), 0);
    assert_int_equal(weft_dict_len(d), NPROC + 1);
    for (i = 0; i < NPROC; i++) {
        snprintf(k, sizeof k, "p%d", i);
        assert_int_equal(get_i64(d, k), NOPS);
    }
    assert_int_equal(weft_dict_destroy(d), 0);
}

#define NTHREADS 8
#define TOPS     2000

struct thread_arg {
    weft_dict *d;
    int index;
    long bad;
};

static void *thread_work(void *p)
{
    struct thread_arg *t = p;
    char k[32], buf[32];
    int i;

    for (i = 0; i < TOPS; i++) {
        snprintf(k, sizeof k, "t%d-%d", t->index, i % 50);
        if (weft_dict_add_i64(t->d, "count", 1, NULL) != 0)
            t->bad++;
        if (i % 50 < 25) {
            if (weft_dict_set(t->d, k, k, strlen(k)) != 0)
                t->bad++;
            if (weft_dict_get(t->d, k, buf, sizeof buf, NULL) !=
                    (int)strlen(k) ||
                memcmp(buf, k, strlen(k)) != 0)
                t->bad++;
        } else {
            snprintf(k, sizeof k, "t%d-%d", t->index, i % 50 - 25);
            if (weft_dict_delete(t->d, k) != 0)
                t->bad++;
        }
    }
    return NULL;
}

/* A private dict from 8 threads: exact count, each thread's own keys
 * always read back, and all gone at the end. */
static void test_threads_private(void **state)
{
    struct thread_arg t[NTHREADS];
    pthread_t th[NTHREADS];
    weft_dict *d;
    int i;

    (void)state;
    assert_int_equal(weft_dict_create(&d, NULL, NTHREADS * 25 + 1, 16, 32), 0);
    for (i = 0; i < NTHREADS; i++) {
        t[i].d = d;
        t[i].index = i;
        t[i].bad = 0;
        assert_int_equal(pthread_create(&th[i], NULL, thread_work, &t[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(t[i].bad, 0);
    }
    assert_int_equal(get_i64(d, "count"), NTHREADS * TOPS);
    assert_int_equal(weft_dict_len(d), 1);
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* ---- Death with the lock held
 * ------------------------------------------------ */

struct sleeper {
    int fd; /* tell the parent fn is running */
};

/* Scribbles on the copy, tells the parent, and waits to be killed. */
static int sleep_in_update(void *buf, size_t *len, size_t max_len, bool exists,
                           void *arg)
{
    struct sleeper *s = arg;

    (void)exists;
    memset(buf, 'X', max_len);
    *len = max_len;
    if (write(s->fd, "x", 1) != 1)
        _exit(3);
    for (;;)
        pause();
    return 0;
}

/* Fork a child that runs fn(d, key, fds[1]) and is SIGKILLed as soon as
 * it writes to the pipe (or when it exits by itself). */
static void kill_child_in(weft_dict *d, const char *key,
                          void (*fn)(weft_dict *, const char *, int))
{
    int fds[2], status;
    pid_t pid;
    char c;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        fn(d, key, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
}

static void child_update(weft_dict *d, const char *key, int fd)
{
    struct sleeper s = {fd};

    weft_dict_update(d, key, sleep_in_update, &s);
}

/* Killed inside an update function: the entry is as before, the next
 * call says WEFT_OWNERDEAD (once), and the dict works on. */
static void test_killed_in_update(void **state)
{
    weft_dict *d;
    char buf[16];
    size_t len = 0;
    int trial;

    (void)state;
    assert_int_equal(weft_dict_create(&d, WEFT_SHARED, 8, 8, 16), 0);
    assert_int_equal(weft_dict_set(d, "k", "before", 6), 0);
    for (trial = 0; trial < 20; trial++) {
        kill_child_in(d, "k", child_update);
        memset(buf, 0, sizeof buf);
        len = 0;
        /* get says WEFT_OWNERDEAD having copied the value anyway. */
        assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len),
                         WEFT_OWNERDEAD);
        assert_int_equal(len, 6);
        assert_memory_equal(buf, "before", 6);
        assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len), 6);
    }

    /* An absent key stays absent. contains cannot carry the notice (its
     * 1 would read as "present"): it answers truly and leaves the notice
     * for the next call that can. */
    kill_child_in(d, "new", child_update);
    assert_int_equal(weft_dict_contains(d, "new"), 0);
    assert_int_equal(weft_dict_len(d), 1);
    assert_int_equal(weft_dict_get(d, "new", buf, sizeof buf, NULL),
                     -ENOENT); /* an error cannot carry it either */
    assert_int_equal(weft_dict_set(d, "other", "o", 1), WEFT_OWNERDEAD);
    assert_int_equal(weft_dict_set(d, "other", "p", 1), 0);
    assert_int_equal(weft_dict_len(d), 2);
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* Killed with the redo journal armed, after half the new value has
 * landed in the slot: the next holder of the lock finishes the copy. */
static int hook_fd = -1;

static void die_mid_copy(void *dst, size_t len)
{
    if (dst)
        memset(dst, 0xEE, len / 2);
    if (write(hook_fd, "x", 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

static void child_set_hooked(weft_dict *d, const char *key, int fd)
{
    hook_fd = fd;
    weft__dict_commit_hook = die_mid_copy;
    weft_dict_set(d, key, "after-after", 11);
}

static void child_add_hooked(weft_dict *d, const char *key, int fd)
{
    hook_fd = fd;
    weft__dict_commit_hook = die_mid_copy;
    weft_dict_add_i64(d, key, 1000, NULL);
}

static void child_clear_hooked(weft_dict *d, const char *key, int fd)
{
    (void)key;
    hook_fd = fd;
    weft__dict_commit_hook = die_mid_copy;
    weft_dict_clear(d);
}

static void test_killed_mid_commit(void **state)
{
    weft_dict *d;
    int64_t v = 1;
    char buf[16];
    size_t len = 0;

    (void)state;
    assert_int_equal(weft_dict_create(&d, WEFT_SHARED, 8, 8, 16), 0);
    assert_int_equal(weft_dict_set(d, "k", "before", 6), 0);
    assert_int_equal(weft_dict_set(d, "n", &v, sizeof v), 0);

    kill_child_in(d, "k", child_set_hooked);
    assert_int_equal(weft_dict_get(d, "k", buf, sizeof buf, &len),
                     WEFT_OWNERDEAD);
    assert_int_equal(len, 11);
    assert_memory_equal(buf, "after-after", 11);

    kill_child_in(d, "n", child_add_hooked);
    assert_int_equal(weft_dict_add_i64(d, "n", 1, &v), WEFT_OWNERDEAD);
    assert_int_equal(v, 1002);
    assert_int_equal(weft_dict_len(d), 2);

    kill_child_in(d, NULL, child_clear_hooked);
    assert_int_equal(weft_dict_len(d), 0);
    assert_int_equal(weft_dict_contains(d, "k"), 0);
    assert_int_equal(weft_dict_set(d, "k", "x", 1), WEFT_OWNERDEAD);
    assert_int_equal(weft_dict_len(d), 1);
    assert_int_equal(weft_dict_destroy(d), 0);
}

/* Killed at random instants in a loop of add_i64: after each kill the
 * count is exactly what the child had been told (or one more, when it
 * died between the commit and hearing of it), and never torn. */
static void test_killed_anywhere(void **state)
{
    int64_t *done, base = 0, v;
    weft_dict *d;
    int trial, status, rc;
    char spare[16];
    size_t len;

    (void)state;
    assert_int_equal(
        weft_arena_alloc(weft_arena_default(), sizeof *done, (void **)&done),
        0);
    assert_int_equal(weft_dict_create(&d, WEFT_SHARED, 8, 8, 16), 0);
    assert_int_equal(weft_dict_set(d, "spare", "untouched", 9), 0);
    assert_int_equal(weft_dict_add_i64(d, "n", 0, NULL), 0);
    srand(7);
    for (trial = 0; trial < 50; trial++) {
        pid_t pid;

        __atomic_store_n(done, 0, __ATOMIC_SEQ_CST);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (;;) {
                if (weft_dict_add_i64(d, "n", 1, NULL) < 0)
                    _exit(1);
                __atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
            }
        }
        usleep((useconds_t)(rand() % 3000));
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        rc = weft_dict_get(d, "n", &v, sizeof v, &len);
        assert_true(rc == 8 || rc == WEFT_OWNERDEAD);
        assert_int_equal(len, 8);
        assert_true(v == base + *done || v == base + *done + 1);
        base = v;
    }
    assert_int_equal(weft_dict_get(d, "spare", spare, sizeof spare, &len), 9);
    assert_memory_equal(spare, "untouched", 9);
    assert_int_equal(weft_dict_len(d), 2);
    assert_int_equal(weft_dict_destroy(d), 0);
    weft_arena_free(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_basics_private),
        cmocka_unit_test(test_basics_shared),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_tombstone_reuse),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_add_i64),
        cmocka_unit_test(test_foreach_clear),
        cmocka_unit_test(test_processes_exact),
        cmocka_unit_test(test_threads_private),
        cmocka_unit_test(test_killed_in_update),
        cmocka_unit_test(test_killed_mid_commit),
        cmocka_unit_test(test_killed_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
