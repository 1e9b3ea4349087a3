/* test_array.c - weft_array and weft_value: creation limits, every type's
 * conversions and ranges, index errors, atomic add and compare-exchange,
 * bytes elements, the embedded lock (held at destroy, dead owner), and
 * exact counts under contention: 100 processes with the lock and with
 * atomic add, 8 threads on a private array. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/fork_helpers.h"

/* ---- Helpers ------------------------------------------------------------ */

/* ---- Creation ----------------------------------------------------------- */

static void test_create_errors(void **state)
{
    weft_array *a = (weft_array *)&a;

    (void)state;
    assert_int_equal(weft_array_create(NULL, NULL, WEFT_INT32, 1, 0, false),
                     -EINVAL);
    assert_int_equal(weft_array_create(&a, NULL, 0, 1, 0, false), -EINVAL);
    assert_null(a); /* *out is cleared on failure */
    assert_int_equal(weft_array_create(&a, NULL, 6, 1, 0, false), -EINVAL);
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT32, 0, 0, false),
                     -EINVAL);
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT64, 1, 8, false),
                     -EINVAL);
    assert_int_equal(weft_array_create(&a, NULL, WEFT_BYTES, 1, 0, false),
                     -EINVAL);
    assert_int_equal(
        weft_array_create(&a, NULL, WEFT_BYTES, 1, (1 << 20) + 1, false),
        -EINVAL);
    assert_int_equal(
        weft_array_create(&a, NULL, WEFT_INT64, SIZE_MAX / 4, 0, false),
        -EINVAL);
    assert_int_equal(
        weft_array_create(&a, NULL, WEFT_BYTES, SIZE_MAX / 1024, 4096, true),
        -EINVAL);
    /* Fits the size_t sums, not the memory. */
    assert_int_equal(
        weft_array_create(&a, WEFT_SHARED, WEFT_INT64, 1 << 30, 0, false),
        -ENOMEM);

    assert_int_equal(weft_array_destroy(NULL), 0);
    assert_int_equal(weft_array_len(NULL), 0);
    assert_int_equal(weft_array_type(NULL), -EINVAL);
    assert_null(weft_array_lock(NULL));
    assert_null(weft_array_data(NULL));

    assert_int_equal(weft_array_create(&a, NULL, WEFT_BYTES, 3, 1 << 20, false),
                     0);
    assert_int_equal(weft_array_len(a), 3);
    assert_int_equal(weft_array_type(a), WEFT_BYTES);
    assert_int_equal(weft_array_destroy(a), 0);
}

/* Every element starts at zero, and the data is where get and set look. */
static void check_zero_and_layout(weft_arena *where, int type)
{
    weft_array *a;
    int64_t v;
    size_t i;
    char *data;

    assert_int_equal(weft_array_create(&a, where, type, 100, 0, true), 0);
    for (i = 0; i < 100; i++) {
        assert_int_equal(weft_array_get_i64(a, i, &v), 0);
        assert_int_equal(v, 0);
    }
    data = weft_array_data(a);
    assert_int_equal((uintptr_t)data % 8, 0);
    assert_int_equal(weft_array_set_i64(a, 7, 42), 0);
    if (type == WEFT_INT32)
        assert_int_equal(((int32_t *)(void *)data)[7], 42);
    else if (type == WEFT_DOUBLE)
        assert_true(((double *)(void *)data)[7] == 42.0);
    else
        assert_int_equal(((int64_t *)(void *)data)[7], 42);
    assert_int_equal(weft_array_destroy(a), 0);
}

static void test_zero_and_layout(void **state)
{
    int t;

    (void)state;
    for (t = WEFT_INT32; t <= WEFT_DOUBLE; t++) {
        check_zero_and_layout(NULL, t);
        check_zero_and_layout(WEFT_SHARED, t);
    }
}

/* ---- Types and ranges --------------------------------------------------- */

static void test_int32(void **state)
{
    weft_array *a;
    int64_t v;
    uint64_t u;
    double d;

    (void)state;
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT32, 1, 0, false), 0);
    assert_int_equal(weft_array_set_i64(a, 0, INT32_MAX), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, INT32_MAX);
    assert_int_equal(weft_array_set_i64(a, 0, (int64_t)INT32_MAX + 1), -ERANGE);
    assert_int_equal(weft_array_set_i64(a, 0, (int64_t)INT32_MIN - 1), -ERANGE);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, INT32_MAX); /* a refused set changes nothing */
    assert_int_equal(weft_array_set_i64(a, 0, INT32_MIN), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, INT32_MIN);
    assert_int_equal(weft_array_get_u64(a, 0, &u), -ERANGE);
    assert_int_equal(weft_array_get_double(a, 0, &d), 0);
    assert_true(d == (double)INT32_MIN);

    assert_int_equal(weft_array_set_u64(a, 0, INT32_MAX), 0);
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_int_equal(u, INT32_MAX);
    assert_int_equal(weft_array_set_u64(a, 0, (uint64_t)INT32_MAX + 1),
                     -ERANGE);

    /* Doubles truncate toward zero, within range. */
    assert_int_equal(weft_array_set_double(a, 0, 3.9), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(weft_array_set_double(a, 0, -3.9), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(weft_array_set_double(a, 0, -2147483648.5), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, INT32_MIN);
    assert_int_equal(weft_array_set_double(a, 0, 2147483648.0), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, -2147483649.0), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, NAN), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, INFINITY), -ERANGE);

    assert_int_equal(weft_array_get_i64(a, 0, NULL), -EINVAL);
    assert_int_equal(weft_array_get_u64(a, 0, NULL), -EINVAL);
    assert_int_equal(weft_array_get_double(a, 0, NULL), -EINVAL);
    assert_int_equal(weft_array_destroy(a), 0);
}

static void test_int64(void **state)
{
    weft_array *a;
    int64_t v;
    uint64_t u;

    (void)state;
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT64, 1, 0, false), 0);
    assert_int_equal(weft_array_set_i64(a, 0, INT64_MIN), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(weft_array_get_u64(a, 0, &u), -ERANGE);
    assert_int_equal(weft_array_set_u64(a, 0, INT64_MAX), 0);
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_true(u == INT64_MAX);
    assert_int_equal(weft_array_set_u64(a, 0, (uint64_t)INT64_MAX + 1),
                     -ERANGE);

    assert_int_equal(weft_array_set_double(a, 0, -9223372036854775808.0), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(weft_array_set_double(a, 0, 9223372036854775808.0),
                     -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, -1e19), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, 1e18), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_true(v == 1000000000000000000LL);
    assert_int_equal(weft_array_destroy(a), 0);
}

static void test_uint64(void **state)
{
    weft_array *a;
    int64_t v;
    uint64_t u;
    double d;

    (void)state;
    assert_int_equal(weft_array_create(&a, NULL, WEFT_UINT64, 1, 0, false), 0);
    assert_int_equal(weft_array_set_i64(a, 0, -1), -ERANGE);
    assert_int_equal(weft_array_set_i64(a, 0, INT64_MAX), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(weft_array_set_u64(a, 0, UINT64_MAX), 0);
    assert_int_equal(weft_array_get_i64(a, 0, &v), -ERANGE);
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(weft_array_get_double(a, 0, &d), 0);
    assert_true(d == 18446744073709551616.0); /* nearest double */

    assert_int_equal(weft_array_set_double(a, 0, -0.5), 0); /* trunc: 0 */
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_true(u == 0);
    assert_int_equal(weft_array_set_double(a, 0, -1.0), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, 18446744073709551616.0),
                     -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, 1.8e19), 0);
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_true(u == 18000000000000000000ULL);
    assert_int_equal(weft_array_destroy(a), 0);
}

static void test_double(void **state)
{
    weft_array *a;
    int64_t v;
    uint64_t u;
    double d;

    (void)state;
    assert_int_equal(weft_array_create(&a, NULL, WEFT_DOUBLE, 2, 0, false), 0);
    assert_int_equal(weft_array_set_double(a, 0, 2.75), 0);
    assert_int_equal(weft_array_get_double(a, 0, &d), 0);
    assert_true(d == 2.75);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_int_equal(u, 2);

    /* Integers beyond 2^53 round to the nearest double. */
    assert_int_equal(weft_array_set_i64(a, 1, (1LL << 53) + 1), 0);
    assert_int_equal(weft_array_get_double(a, 1, &d), 0);
    assert_true(d == 9007199254740992.0);
    assert_int_equal(weft_array_set_u64(a, 1, UINT64_MAX), 0);
    assert_int_equal(weft_array_get_double(a, 1, &d), 0);
    assert_true(d == 18446744073709551616.0);
    assert_int_equal(weft_array_get_u64(a, 1, &u), -ERANGE);
    assert_int_equal(weft_array_get_i64(a, 1, &v), -ERANGE);

    assert_int_equal(weft_array_set_double(a, 0, NAN), 0);
    assert_int_equal(weft_array_get_double(a, 0, &d), 0);
    assert_true(isnan(d));
    assert_int_equal(weft_array_get_i64(a, 0, &v), -ERANGE);
    assert_int_equal(weft_array_get_u64(a, 0, &u), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 0, -1.5), 0);
    assert_int_equal(weft_array_get_u64(a, 0, &u), -ERANGE);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, -1);

    assert_int_equal(weft_array_add(a, 0, 1, NULL), -EINVAL);
    v = 0;
    assert_int_equal(weft_array_cas(a, 0, &v, 1), -EINVAL);
    assert_int_equal(weft_array_destroy(a), 0);
}

/* Every call with i == len (and far beyond) says -ERANGE. */
static void test_index_errors(void **state)
{
    weft_array *a, *b;
    int64_t v = 0;
    uint64_t u;
    double d;
    char buf[8];

    (void)state;
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT64, 4, 0, true), 0);
    assert_int_equal(weft_array_create(&b, NULL, WEFT_BYTES, 4, 8, true), 0);
    assert_int_equal(weft_array_get_i64(a, 3, &v), 0);
    assert_int_equal(weft_array_get_i64(a, 4, &v), -ERANGE);
    assert_int_equal(weft_array_get_i64(a, SIZE_MAX, &v), -ERANGE);
    assert_int_equal(weft_array_set_i64(a, 4, 1), -ERANGE);
    assert_int_equal(weft_array_get_u64(a, 4, &u), -ERANGE);
    assert_int_equal(weft_array_set_u64(a, 4, 1), -ERANGE);
    assert_int_equal(weft_array_get_double(a, 4, &d), -ERANGE);
    assert_int_equal(weft_array_set_double(a, 4, 1), -ERANGE);
    assert_int_equal(weft_array_add(a, 4, 1, NULL), -ERANGE);
    assert_int_equal(weft_array_cas(a, 4, &v, 1), -ERANGE);
    assert_int_equal(weft_array_get_bytes(b, 4, buf, sizeof buf), -ERANGE);
    assert_int_equal(weft_array_set_bytes(b, 4, "x", 1), -ERANGE);
    assert_int_equal(weft_array_set_bytes(b, SIZE_MAX, "x", 1), -ERANGE);

    /* NULL arrays. */
    assert_int_equal(weft_array_get_i64(NULL, 0, &v), -EINVAL);
    assert_int_equal(weft_array_set_i64(NULL, 0, 1), -EINVAL);
    assert_int_equal(weft_array_add(NULL, 0, 1, NULL), -EINVAL);
    assert_int_equal(weft_array_cas(NULL, 0, &v, 1), -EINVAL);
    assert_int_equal(weft_array_get_bytes(NULL, 0, buf, 8), -EINVAL);
    assert_int_equal(weft_array_set_bytes(NULL, 0, buf, 8), -EINVAL);
    assert_int_equal(weft_array_destroy(a), 0);
    assert_int_equal(weft_array_destroy(b), 0);
}

/* ---- Atomic add and compare-exchange ------------------------------------ */

static void test_add_wraps(void **state)
{
    weft_array *a;
    int64_t r;
    uint64_t u;

    (void)state;
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT32, 1, 0, false), 0);
    assert_int_equal(weft_array_add(a, 0, 5, &r), 0);
    assert_int_equal(r, 5);
    assert_int_equal(weft_array_add(a, 0, -7, &r), 0);
    assert_int_equal(r, -2);
    assert_int_equal(weft_array_set_i64(a, 0, INT32_MAX), 0);
    assert_int_equal(weft_array_add(a, 0, 1, &r), 0);
    assert_int_equal(r, INT32_MIN);
    assert_int_equal(weft_array_add(a, 0, (1LL << 32) + 1, &r), 0);
    assert_int_equal(r, (int64_t)INT32_MIN + 1); /* delta modulo 2^32 */
    assert_int_equal(weft_array_add(a, 0, 0, NULL), 0);
    assert_int_equal(weft_array_destroy(a), 0);

    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT64, 1, 0, false), 0);
    assert_int_equal(weft_array_set_i64(a, 0, INT64_MAX), 0);
    assert_int_equal(weft_array_add(a, 0, 1, &r), 0);
    assert_true(r == INT64_MIN);
    assert_int_equal(weft_array_add(a, 0, -1, &r), 0);
    assert_true(r == INT64_MAX);
    assert_int_equal(weft_array_destroy(a), 0);

    assert_int_equal(weft_array_create(&a, NULL, WEFT_UINT64, 1, 0, false), 0);
    assert_int_equal(weft_array_add(a, 0, -1, &r), 0);
    assert_true((uint64_t)r == UINT64_MAX);
    assert_int_equal(weft_array_get_u64(a, 0, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(weft_array_add(a, 0, 1, &r), 0);
    assert_int_equal(r, 0);
    assert_int_equal(weft_array_destroy(a), 0);

    assert_int_equal(weft_array_create(&a, NULL, WEFT_BYTES, 1, 8, false), 0);
    assert_int_equal(weft_array_add(a, 0, 1, &r), -EINVAL);
    assert_int_equal(weft_array_destroy(a), 0);
}

static void test_cas(void **state)
{
    weft_array *a;
    int64_t e, v;
    int t;

    (void)state;
    for (t = WEFT_INT32; t <= WEFT_UINT64; t++) {
        assert_int_equal(weft_array_create(&a, NULL, t, 2, 0, false), 0);
        assert_int_equal(weft_array_set_i64(a, 1, 10), 0);
        e = 10;
        assert_int_equal(weft_array_cas(a, 1, &e, 20), 1);
        assert_int_equal(e, 10); /* untouched on success */
        assert_int_equal(weft_array_get_i64(a, 1, &v), 0);
        assert_int_equal(v, 20);
        e = 10;
        assert_int_equal(weft_array_cas(a, 1, &e, 30), 0);
        assert_int_equal(e, 20); /* the value found */
        assert_int_equal(weft_array_get_i64(a, 1, &v), 0);
        assert_int_equal(v, 20);
        assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
        assert_int_equal(v, 0); /* the neighbour is untouched */
        assert_int_equal(weft_array_cas(a, 1, NULL, 1), -EINVAL);
        assert_int_equal(weft_array_destroy(a), 0);
    }

    /* int32: a desired value that does not fit is refused; an expected
     * one that does not fit never matches, even when it truncates to the
     * element's value. */
    assert_int_equal(weft_array_create(&a, NULL, WEFT_INT32, 1, 0, false), 0);
    assert_int_equal(weft_array_set_i64(a, 0, 5), 0);
    e = 5;
    assert_int_equal(weft_array_cas(a, 0, &e, 1LL << 31), -ERANGE);
    e = (1LL << 32) + 5;
    assert_int_equal(weft_array_cas(a, 0, &e, 6), 0);
    assert_int_equal(e, 5);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, 5);
    e = 5;
    assert_int_equal(weft_array_cas(a, 0, &e, INT32_MIN), 1);
    assert_int_equal(weft_array_get_i64(a, 0, &v), 0);
    assert_int_equal(v, INT32_MIN);
    assert_int_equal(weft_array_destroy(a), 0);

    /* uint64: the 64 bits of the int64 values. */
    assert_int_equal(weft_array_create(&a, NULL, WEFT_UINT64, 1, 0, false), 0);
    e = 0;
    assert_int_equal(weft_array_cas(a, 0, &e, -1), 1);
    e = 0;
    assert_int_equal(weft_array_cas(a, 0, &e, 3), 0);
    assert_int_equal(e, -1);
    assert_int_equal(weft_array_destroy(a), 0);
}

/* ---- Bytes elements ----------------------------------------------------- */

static void check_bytes(weft_arena *where, bool with_lock)
{
    weft_array *a;
    char buf[16], *data;

    assert_int_equal(weft_array_create(&a, where, WEFT_BYTES, 3, 5, with_lock),
                     0);
    assert_int_equal(weft_array_len(a), 3);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(weft_array_get_bytes(a, 1, buf, 5), 0);
    assert_memory_equal(buf, "\0\0\0\0\0x", 6); /* zeroed, exactly 5 */

    assert_int_equal(weft_array_set_bytes(a, 1, "hello", 5), 0);
    assert_int_equal(weft_array_set_bytes(a, 0, "ab", 2), 0);
    assert_int_equal(weft_array_get_bytes(a, 1, buf, sizeof buf), 0);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(weft_array_set_bytes(a, 1, "abc", 3), 0);
    assert_int_equal(weft_array_get_bytes(a, 1, buf, sizeof buf), 0);
    assert_memory_equal(buf, "abc\0\0", 5); /* the rest zero-filled */
    assert_int_equal(weft_array_set_bytes(a, 1, NULL, 0), 0);
    assert_int_equal(weft_array_get_bytes(a, 1, buf, sizeof buf), 0);
    assert_memory_equal(buf, "\0\0\0\0\0", 5);

    /* Elements lie side by side in the data, elem_size apart. */
    data = weft_array_data(a);
    assert_memory_equal(data, "ab\0\0\0", 5);
    memcpy(data + 10, "zyxwv", 5);
    assert_int_equal(weft_array_get_bytes(a, 2, buf, sizeof buf), 0);
    assert_memory_equal(buf, "zyxwv", 5);

    assert_int_equal(weft_array_set_bytes(a, 0, "toolong", 6), -EMSGSIZE);
    assert_int_equal(weft_array_get_bytes(a, 0, buf, 4), -ENOBUFS);
    assert_int_equal(weft_array_set_bytes(a, 0, NULL, 1), -EINVAL);
    assert_int_equal(weft_array_get_bytes(a, 0, NULL, 5), -EINVAL);
    assert_int_equal(weft_array_get_i64(a, 0, (int64_t *)(void *)buf), -EINVAL);
    assert_int_equal(weft_array_set_i64(a, 0, 1), -EINVAL);
    assert_int_equal(weft_array_set_double(a, 0, 1), -EINVAL);

    if (with_lock) {
        /* Under the caller's own hold of the lock, the copies go ahead
         * (no -EDEADLK): the documented way to loop over elements. */
        assert_int_equal(weft_lock_acquire(weft_array_lock(a), -1), 0);
        assert_int_equal(weft_array_set_bytes(a, 0, "12345", 5), 0);
        assert_int_equal(weft_array_get_bytes(a, 0, buf, 5), 0);
        assert_memory_equal(buf, "12345", 5);
        assert_int_equal(weft_lock_release(weft_array_lock(a)), 0);
    }
    assert_int_equal(weft_array_destroy(a), 0);

    /* A Value of bytes, through the int and the bytes calls. */
    assert_int_equal(weft_value_create(&a, where, WEFT_BYTES, 1, with_lock), 0);
    assert_int_equal(weft_array_set_bytes(a, 0, "q", 1), 0);
    assert_int_equal(weft_array_get_bytes(a, 0, buf, 1), 0);
    assert_int_equal(buf[0], 'q');
    assert_int_equal(weft_value_destroy(a), 0);
}

static void test_bytes(void **state)
{
    (void)state;
    check_bytes(NULL, false);
    check_bytes(NULL, true);
    check_bytes(WEFT_SHARED, false);
    check_bytes(WEFT_SHARED, true);
}

/* ---- The embedded lock -------------------------------------------------- */

static void test_lock_and_destroy(void **state)
{
    weft_value *v;
    weft_lock *l;

    (void)state;
    assert_int_equal(weft_value_create(&v, NULL, WEFT_INT64, 0, false), 0);
    assert_null(weft_value_lock(v));
    assert_int_equal(weft_value_destroy(v), 0);

    assert_int_equal(weft_value_create(&v, NULL, WEFT_INT64, 1, true), -EINVAL);
    assert_int_equal(weft_value_create(&v, WEFT_SHARED, WEFT_INT64, 0, true),
                     0);
    l = weft_value_lock(v);
    assert_non_null(l);
    assert_int_equal(weft_lock_acquire(l, -1), 0);
    assert_int_equal(weft_value_destroy(v), -EBUSY);
    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(weft_value_destroy(v), 0);

    assert_int_equal(weft_value_create(&v, NULL, WEFT_INT32, 0, true), 0);
    l = weft_value_lock(v);
    WEFT_WITH_LOCK(l)
    {
        assert_int_equal(weft_value_destroy(v), -EBUSY);
    }
    assert_int_equal(weft_value_destroy(v), 0);
}

/* A process killed holding a bytes array's lock: the next copy says
 * WEFT_OWNERDEAD, once, and does its work. */
static void test_bytes_owner_dead(void **state)
{
    weft_array *a;
    int fds[2], status;
    char buf[4], c;
    pid_t pid;

    (void)state;
    assert_int_equal(weft_array_create(&a, WEFT_SHARED, WEFT_BYTES, 2, 4, true),
                     0);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (weft_lock_acquire(weft_array_lock(a), -1) != 0 ||
            write(fds[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(weft_array_set_bytes(a, 1, "abcd", 4), WEFT_OWNERDEAD);
    assert_int_equal(weft_array_get_bytes(a, 1, buf, 4), 0);
    assert_memory_equal(buf, "abcd", 4);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(weft_array_destroy(a), 0);
}

/* ---- Exact counts under contention -------------------------------------- */

#define NPROC 100
#define NOPS  100
#define START (NPROC * NOPS)

/* A compound read-modify-write that only the lock makes safe; every tenth
 * round yields inside it, to give the scheduler every chance to expose a
 * lost update. */
static int locked_decrements(void *arg, int index)
{
    weft_value *v = arg;
    int64_t x;
    int i, bad = 0;

    (void)index;
    for (i = 0; i < NOPS; i++) {
        WEFT_WITH_LOCK(weft_value_lock(v))
        {
            if (weft_value_get_i64(v, &x) != 0)
                bad = 1;
            if (i % 10 == 0)
                sched_yield();
            if (weft_value_set_i64(v, x - 1) != 0)
                bad = 1;
        }
    }
    return bad;
}

static int atomic_decrements(void *arg, int index)
{
    weft_value *v = arg;
    int i, bad = 0;

    (void)index;
    for (i = 0; i < NOPS; i++) {
        if (weft_value_add(v, -1, NULL) != 0)
            bad = 1;
        if (i % 10 == 0)
            sched_yield();
    }
    return bad;
}

static void test_value_lock_processes(void **state)
{
    weft_value *v;
    int64_t x;

    (void)state;
    assert_int_equal(weft_value_create(&v, WEFT_SHARED, WEFT_INT64, 0, true),
                     0);
    assert_int_equal(weft_value_set_i64(v, START), 0);
    assert_int_equal(run_children(NPROC, locked_decrements, v), 0);
    assert_int_equal(weft_value_get_i64(v, &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(weft_value_destroy(v), 0);
}

static void test_value_atomic_processes(void **state)
{
    weft_value *v;
    int64_t x;

    (void)state;
    assert_int_equal(weft_value_create(&v, WEFT_SHARED, WEFT_INT32, 0, false),
                     0);
    assert_int_equal(weft_value_set_i64(v, START), 0);
    assert_int_equal(run_children(NPROC, atomic_decrements, v), 0);
    assert_int_equal(weft_value_get_i64(v, &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(weft_value_destroy(v), 0);
}

/* Eight threads on private arrays: counter 0 by atomic add, counter 1 by
 * a compare-exchange loop, counter 2 under the lock; and a bytes element
 * rewritten with one of two patterns, never read torn. */
#define NTHREADS 8
#define TOPS     5000

struct thread_arg {
    weft_array *counters; /* int64, 3 elements, with lock */
    weft_array *bytes;    /* bytes, 1 element of 64, with lock */
};

static void *thread_work(void *p)
{
    struct thread_arg *t = p;
    char buf[64], one[64], other[64];
    int64_t e, x;
    long bad = 0;
    int i;

    memset(one, 'a', sizeof one);
    memset(other, 'b', sizeof other);
    for (i = 0; i < TOPS; i++) {
        if (weft_array_add(t->counters, 0, 1, NULL) != 0)
            bad++;
        if (weft_array_get_i64(t->counters, 1, &e) != 0)
            bad++;
        while (weft_array_cas(t->counters, 1, &e, e + 1) == 0)
            ;
        WEFT_WITH_LOCK(weft_array_lock(t->counters))
        {
            if (weft_array_get_i64(t->counters, 2, &x) != 0 ||
                weft_array_set_i64(t->counters, 2, x + 1) != 0)
                bad++;
        }
        if (weft_array_set_bytes(t->bytes, 0, i % 2 ? one : other, 64) != 0 ||
            weft_array_get_bytes(t->bytes, 0, buf, sizeof buf) != 0)
            bad++;
        if (memcmp(buf, one, 64) != 0 && memcmp(buf, other, 64) != 0)
            bad++;
    }
    return (void *)bad;
}

static void test_threads_private(void **state)
{
    struct thread_arg arg;
    pthread_t t[NTHREADS];
    void *bad;
    int64_t x;
    int i;

    (void)state;
    assert_int_equal(
        weft_array_create(&arg.counters, NULL, WEFT_INT64, 3, 0, true), 0);
    assert_int_equal(
        weft_array_create(&arg.bytes, NULL, WEFT_BYTES, 1, 64, true), 0);
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_work, &arg), 0);
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
    for (i = 0; i < 3; i++) {
        assert_int_equal(weft_array_get_i64(arg.counters, (size_t)i, &x), 0);
        assert_int_equal(x, NTHREADS * TOPS);
    }
    assert_int_equal(weft_array_destroy(arg.counters), 0);
    assert_int_equal(weft_array_destroy(arg.bytes), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_zero_and_layout),
        cmocka_unit_test(test_int32),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_uint64),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_index_errors),
        cmocka_unit_test(test_add_wraps),
        cmocka_unit_test(test_cas),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_lock_and_destroy),
        cmocka_unit_test(test_bytes_owner_dead),
        cmocka_unit_test(test_value_lock_processes),
        cmocka_unit_test(test_value_atomic_processes),
        cmocka_unit_test(test_threads_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
