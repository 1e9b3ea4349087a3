/* array.c - weft_array and weft_value (a one-element array): typed
 * elements in private or shared memory, Python's multiprocessing.Array
 * and Value.
 *
 * One allocation holds a header and then the elements:
 *
 *   [struct weft_array | padding to 64 | elem 0 | elem 1 | ... ]
 *
 * The header is written once at creation and only read afterwards; the
 * elements start on their own cache line, so atomics hammering them do not
 * keep evicting the header every access reads. Nothing in the object is a
 * pointer: the element address is computed from the object's own address,
 * so a named arena may map it anywhere.
 *
 * Numeric elements are read and written with the __atomic builtins on
 * their own type (natural alignment is guaranteed: the data starts 64-byte
 * aligned and elements are 4 or 8 bytes), so a get never sees half of a
 * set, and add / cas need no lock at all. Loads are acquire and stores
 * release: a value read after another process stored it shows everything
 * that process wrote before the store (a full barrier per store would cost
 * a locked instruction every time). Bytes elements are too big for
 * that; they are copied under the embedded lock when there is one.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sync/lock_int.h"
#include "sync/sync_int.h"

#include <weft/shared.h>

#define MAX_BYTES_ELEM ((size_t)1 << 20)

struct weft_array {
    int32_t type;       /* enum weft_type */
    bool has_lock;      /* lock below is initialised and in use */
    bool shared;        /* placement, for weft__unplace */
    uint64_t n;         /* number of elements */
    uint64_t elem_size; /* bytes per element */
    /* Reserved in every array so the data offset is a constant; set up
     * only with with_lock. On a cache line of its own: processes fighting
     * over the lock must not keep stealing the line that every get and set
     * reads the type and length from, or the holder stalls inside its
     * critical section (false sharing measured at +40% on the contended
     * counter benchmark). */
    struct weft_lock lock __attribute__((aligned(64)));
};

/* Where the elements start, from the object's own address. */
#define DATA_OFF ((sizeof(struct weft_array) + 63) & ~(size_t)63)

static inline char *elem(weft_array *a, size_t i)
{
    return (char *)a + DATA_OFF + i * a->elem_size;
}

static size_t type_size(int type)
{
    switch (type) {
    case WEFT_INT32:
        return sizeof(int32_t);
    case WEFT_INT64:
    case WEFT_UINT64:
    case WEFT_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

/* ---- Lifetime ----------------------------------------------------------- */

int weft_array_create(weft_array **out, weft_arena *where, int type, size_t n,
                      size_t elem_size, bool with_lock)
{
    weft_array *a;
    size_t size;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (type == WEFT_BYTES) {
        if (elem_size < 1 || elem_size > MAX_BYTES_ELEM)
            return -EINVAL;
    } else {
        if (elem_size != 0 || type_size(type) == 0)
            return -EINVAL;
        elem_size = type_size(type);
    }
    if (n == 0 || __builtin_mul_overflow(n, elem_size, &size) ||
        __builtin_add_overflow(size, DATA_OFF, &size))
        return -EINVAL;
    rc = weft__place(where, size, (void **)&a, &shared);
    if (rc < 0)
        return rc;
    a->type = type;
    a->n = n;
    a->elem_size = elem_size;
    a->shared = shared;
    if (with_lock) {
        rc = weft__lock_init(&a->lock, shared);
        if (rc < 0) {
            weft__unplace(a, shared);
            return rc;
        }
        a->has_lock = true;
    }
    *out = a;
    return 0;
}

int weft_array_destroy(weft_array *a)
{
    int rc;

    if (!a)
        return 0;
    if (a->has_lock) {
        rc = weft__lock_fini(&a->lock);
        if (rc < 0)
            return rc;
    }
    weft__unplace(a, a->shared);
    return 0;
}

size_t weft_array_len(const weft_array *a)
{
    return a ? (size_t)a->n : 0;
}

int weft_array_type(const weft_array *a)
{
    return a ? a->type : -EINVAL;
}

weft_lock *weft_array_lock(weft_array *a)
{
    return a && a->has_lock ? &a->lock : NULL;
}

void *weft_array_data(weft_array *a)
{
    return a ? elem(a, 0) : NULL;
}

/* ---- Numeric elements --------------------------------------------------- */

/* The common checks: a numeric array and an index inside it. */
static int check_num(const weft_array *a, size_t i)
{
    if (!a || a->type == WEFT_BYTES)
        return -EINVAL;
    if (i >= a->n)
        return -ERANGE;
    return 0;
}

/* Signed elements are accessed through their unsigned twins (same size,
 * and C lets the two alias), so that wrapping arithmetic is defined. */
static uint32_t *p32(weft_array *a, size_t i)
{
    return (uint32_t *)(void *)elem(a, i);
}

static uint64_t *p64(weft_array *a, size_t i)
{
    return (uint64_t *)(void *)elem(a, i);
}

static double *pdbl(weft_array *a, size_t i)
{
    return (double *)(void *)elem(a, i);
}

static double load_double(weft_array *a, size_t i)
{
    double v;

    __atomic_load(pdbl(a, i), &v, __ATOMIC_ACQUIRE);
    return v;
}

static void store_double(weft_array *a, size_t i, double v)
{
    __atomic_store(pdbl(a, i), &v, __ATOMIC_RELEASE);
}

/* Doubles convert to integers as a C cast does (truncation toward zero),
 * but only when the truncated value fits: a cast of anything else,
 * including NaN, is undefined behaviour. The bounds are powers of two, so
 * they are exact in a double. */
static int double_to_i64(double v, int64_t *out)
{
    /* No double lies strictly between -2^63 - 1 and -2^63 (they are 2048
     * apart there), so the low bound needs no allowance for truncation. */
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return -ERANGE;
    *out = (int64_t)v;
    return 0;
}

static int double_to_u64(double v, uint64_t *out)
{
    if (!(v > -1.0 && v < 18446744073709551616.0))
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

int weft_array_get_i64(weft_array *a, size_t i, int64_t *out)
{
    uint64_t u;
    int rc = check_num(a, i);

    if (rc < 0)
        return rc;
    if (!out)
        return -EINVAL;
    switch (a->type) {
    case WEFT_INT32:
        *out = (int32_t)__atomic_load_n(p32(a, i), __ATOMIC_ACQUIRE);
        return 0;
    case WEFT_INT64:
        *out = (int64_t)__atomic_load_n(p64(a, i), __ATOMIC_ACQUIRE);
        return 0;
    case WEFT_UINT64:
        u = __atomic_load_n(p64(a, i), __ATOMIC_ACQUIRE);
        if (u > INT64_MAX)
            return -ERANGE;
        *out = (int64_t)u;
        return 0;
    default:
        return double_to_i64(load_double(a, i), out);
    }
}

int weft_array_set_i64(weft_array *a, size_t i, int64_t v)
{
    int rc = check_num(a, i);

    if (rc < 0)
        return rc;
    switch (a->type) {
    case WEFT_INT32:
        if (v < INT32_MIN || v > INT32_MAX)
            return -ERANGE;
        __atomic_store_n(p32(a, i), (uint32_t)v, __ATOMIC_RELEASE);
        return 0;
    case WEFT_INT64:
        __atomic_store_n(p64(a, i), (uint64_t)v, __ATOMIC_RELEASE);
        return 0;
    case WEFT_UINT64:
        if (v < 0)
            return -ERANGE;
        __atomic_store_n(p64(a, i), (uint64_t)v, __ATOMIC_RELEASE);
        return 0;
    default:
        store_double(a, i, (double)v); /* nearest double beyond 2^53 */
        return 0;
    }
}

int weft_array_get_u64(weft_array *a, size_t i, uint64_t *out)
{
    int64_t s;
    int rc = check_num(a, i);

    if (rc < 0)
        return rc;
    if (!out)
        return -EINVAL;
    switch (a->type) {
    case WEFT_INT32:
        s = (int32_t)__atomic_load_n(p32(a, i), __ATOMIC_ACQUIRE);
        break;
    case WEFT_INT64:
        s = (int64_t)__atomic_load_n(p64(a, i), __ATOMIC_ACQUIRE);
        break;
    case WEFT_UINT64:
        *out = __atomic_load_n(p64(a, i), __ATOMIC_ACQUIRE);
        return 0;
    default:
        return double_to_u64(load_double(a, i), out);
    }
    if (s < 0)
        return -ERANGE;
    *out = (uint64_t)s;
    return 0;
}

int weft_array_set_u64(weft_array *a, size_t i, uint64_t v)
{
    int rc = check_num(a, i);

    if (rc < 0)
        return rc;
    switch (a->type) {
    case WEFT_INT32:
        if (v > INT32_MAX)
            return -ERANGE;
        __atomic_store_n(p32(a, i), (uint32_t)v, __ATOMIC_RELEASE);
        return 0;
    case WEFT_INT64:
        if (v > INT64_MAX)
            return -ERANGE;
        /* fallthrough */
    case WEFT_UINT64:
        __atomic_store_n(p64(a, i), v, __ATOMIC_RELEASE);
        return 0;
    default:
        store_double(a, i, (double)v);
        return 0;
    }
}

int weft_array_get_double(weft_array *a, size_t i, double *out)
{
    int rc = check_num(a, i);

    if (rc < 0)
        return rc;
    if (!out)
        return -EINVAL;
    switch (a->type) {
    case WEFT_INT32:
        *out = (int32_t)__atomic_load_n(p32(a, i), __ATOMIC_ACQUIRE);
        return 0;
    case WEFT_INT64:
        *out = (double)(int64_t)__atomic_load_n(p64(a, i), __ATOMIC_ACQUIRE);
        return 0;
    case WEFT_UINT64:
        *out = (double)__atomic_load_n(p64(a, i), __ATOMIC_ACQUIRE);
        return 0;
    default:
        *out = load_double(a, i);
        return 0;
    }
}

int weft_array_set_double(weft_array *a, size_t i, double v)
{
    int64_t s;
    uint64_t u;
    int rc = check_num(a, i);

    if (rc < 0)
        return rc;
    switch (a->type) {
    case WEFT_INT32:
        if (double_to_i64(v, &s) < 0 || s < INT32_MIN || s > INT32_MAX)
            return -ERANGE;
        __atomic_store_n(p32(a, i), (uint32_t)s, __ATOMIC_RELEASE);
        return 0;
    case WEFT_INT64:
        if (double_to_i64(v, &s) < 0)
            return -ERANGE;
        __atomic_store_n(p64(a, i), (uint64_t)s, __ATOMIC_RELEASE);
        return 0;
    case WEFT_UINT64:
        if (double_to_u64(v, &u) < 0)
            return -ERANGE;
        __atomic_store_n(p64(a, i), u, __ATOMIC_RELEASE);
        return 0;
    default:
        store_double(a, i, v);
        return 0;
    }
}

/* Integer elements only: double and bytes have no atomic add or cas. */
static int check_int(const weft_array *a, size_t i)
{
    if (!a || (a->type != WEFT_INT32 && a->type != WEFT_INT64 &&
               a->type != WEFT_UINT64))
        return -EINVAL;
    if (i >= a->n)
        return -ERANGE;
    return 0;
}

int weft_array_add(weft_array *a, size_t i, int64_t delta, int64_t *result)
{
    uint64_t r64;
    uint32_t r32;
    int rc = check_int(a, i);

    if (rc < 0)
        return rc;
    /* Unsigned arithmetic wraps modulo 2^bits, which is exactly two's
     * complement wrapping for the signed types; the int32 delta is taken
     * modulo 2^32 the same way. */
    if (a->type == WEFT_INT32) {
        r32 = __atomic_add_fetch(p32(a, i), (uint32_t)delta, __ATOMIC_SEQ_CST);
        if (result)
            *result = (int32_t)r32;
    } else {
        r64 = __atomic_add_fetch(p64(a, i), (uint64_t)delta, __ATOMIC_SEQ_CST);
        if (result)
            *result = (int64_t)r64; /* uint64: the same 64 bits */
    }
    return 0;
}

int weft_array_cas(weft_array *a, size_t i, int64_t *expected, int64_t desired)
{
    uint64_t e64;
    uint32_t e32;
    int rc = check_int(a, i);

    if (rc < 0)
        return rc;
    if (!expected)
        return -EINVAL;
    if (a->type != WEFT_INT32) {
        /* uint64 elements compare and store as the same 64 bits. */
        e64 = (uint64_t)*expected;
        if (__atomic_compare_exchange_n(p64(a, i), &e64, (uint64_t)desired,
                                        false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return 1;
        *expected = (int64_t)e64;
        return 0;
    }
    if (desired < INT32_MIN || desired > INT32_MAX)
        return -ERANGE;
    if (*expected < INT32_MIN || *expected > INT32_MAX) {
        /* No int32 can equal it; truncating it could make one. */
        *expected = (int32_t)__atomic_load_n(p32(a, i), __ATOMIC_ACQUIRE);
        return 0;
    }
    e32 = (uint32_t)*expected;
    if (__atomic_compare_exchange_n(p32(a, i), &e32, (uint32_t)desired, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return 1;
    *expected = (int32_t)e32;
    return 0;
}

/* ---- Bytes elements ----------------------------------------------------- */

/* Take the array's lock for one copy, unless there is none or the caller
 * already holds it (the documented way to loop over elements): then the
 * caller's own locking is what makes the copy safe. Returns 1 if taken
 * here (*dead set when it came from a dead owner), 0 if not, or -errno. */
static int copy_lock(weft_array *a, bool *dead)
{
    int rc;

    *dead = false;
    if (!a->has_lock || weft__lock_held_by_me(&a->lock))
        return 0;
    rc = weft_lock_acquire(&a->lock, -1);
    if (rc < 0)
        return rc;
    *dead = rc == WEFT_OWNERDEAD;
    return 1;
}

int weft_array_set_bytes(weft_array *a, size_t i, const void *p, size_t n)
{
    bool dead;
    int taken;

    if (!a || a->type != WEFT_BYTES || (!p && n > 0))
        return -EINVAL;
    if (i >= a->n)
        return -ERANGE;
    if (n > a->elem_size)
        return -EMSGSIZE;
    taken = copy_lock(a, &dead);
    if (taken < 0)
        return taken;
    if (n > 0)
        memcpy(elem(a, i), p, n);
    memset(elem(a, i) + n, 0, a->elem_size - n);
    if (taken)
        weft_lock_release(&a->lock);
    return dead ? WEFT_OWNERDEAD : 0;
}

int weft_array_get_bytes(weft_array *a, size_t i, void *buf, size_t cap)
{
    bool dead;
    int taken;

    if (!a || a->type != WEFT_BYTES || !buf)
        return -EINVAL;
    if (i >= a->n)
        return -ERANGE;
    if (cap < a->elem_size)
        return -ENOBUFS;
    taken = copy_lock(a, &dead);
    if (taken < 0)
        return taken;
    memcpy(buf, elem(a, i), a->elem_size);
    if (taken)
        weft_lock_release(&a->lock);
    return dead ? WEFT_OWNERDEAD : 0;
}
