/* weft/shared.h - shared data: typed values and arrays (Python's
 * multiprocessing.Value and Array) and a shared dictionary (the
 * Manager().dict() of the course), in shared memory.
 *
 * Model
 *   Each object is created with a placement (see weft/shm.h): NULL for the
 *   threads of this process, WEFT_SHARED or an arena for processes.
 *
 *   Values and arrays hold elements of one type: int32, int64, uint64,
 *   double, or bytes (a fixed-size byte string per element). Integer
 *   elements also have atomic add and compare-exchange, which need no lock
 *   at all. With `with_lock` (Python's lock=True, the default there) the
 *   object carries a robust weft_lock (weft/sync.h) for compound updates:
 *       WEFT_WITH_LOCK(weft_value_lock(v)) { read; compute; write; }
 *   Plain get and set of one element are single atomic loads and stores
 *   for the numeric types (never torn); bytes elements are copied under the
 *   object's lock when it has one.
 *
 *   The dict maps string keys to byte values. Its capacity (entries), its
 *   longest key and its largest value are fixed at creation; the memory is
 *   reserved then, so it never allocates afterwards. Every call takes its
 *   robust lock, so each call is atomic; weft_dict_update() runs a caller's
 *   function on a value under that lock and stores what it makes of it
 *   (a read-modify-write in one call), and weft_dict_add_i64()
 *   is the `d["count"] -= 1` that, unlike Python's Manager dict (a get and
 *   a set, two round trips), loses no update when 100 processes do it at
 *   once. A process killed in the middle of a call, even by SIGKILL, never
 *   leaves a change half-made: the entry is as it was before the call, or
 *   (if the death came after the change was committed) as the call made
 *   it; the dict repairs itself, and the next caller gets WEFT_OWNERDEAD
 *   (its call itself succeeded) as a sign that somebody died using it.
 *
 * Threads and fork
 *   As for weft/sync.h: any number of threads and (shared placement)
 *   processes at once; handles point into shared memory and are valid in
 *   forked children.
 */
#ifndef WEFT_SHARED_H
#define WEFT_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/core.h>
#include <weft/shm.h>
#include <weft/sync.h>

#ifdef __cplusplus
extern "C" {
#endif

enum weft_type {
    WEFT_INT32 = 1,  /* 'i' in Python's array codes */
    WEFT_INT64 = 2,  /* 'q' */
    WEFT_UINT64 = 3, /* 'Q' */
    WEFT_DOUBLE = 4, /* 'd' */
    WEFT_BYTES = 5   /* 'c' * size: a fixed-size byte string */
};

/* ---- Array -------------------------------------------------------------- */

typedef struct weft_array weft_array;

/* An array of n elements of type, zero-filled. elem_size is the size of
 * one WEFT_BYTES element (1 .. 1 MiB) and must be 0 for the other types.
 * Errors: -EINVAL (bad type, n 0, bad elem_size, n * size overflow),
 * -ENOMEM. */
WEFT_API int weft_array_create(weft_array **out, weft_arena *where, int type,
                               size_t n, size_t elem_size, bool with_lock);
WEFT_API size_t weft_array_len(const weft_array *a);
WEFT_API int weft_array_type(const weft_array *a);
/* The built-in lock, or NULL if created without. */
WEFT_API weft_lock *weft_array_lock(weft_array *a);

/* Element i as an integer or a double, converted from the element's type
 * (-EINVAL for a bytes array or with a NULL out). -ERANGE for i >= len.
 * set: -ERANGE also when the value does not fit the element type.
 * Conversions: an integer that does not fit the requested type (a
 * negative one as uint64, a uint64 above INT64_MAX as int64) is -ERANGE;
 * a double becomes an integer as a C cast does, truncated toward zero,
 * and is -ERANGE when NaN or out of the type's range; an integer becomes
 * the nearest double (exact up to 2^53). */
WEFT_API int weft_array_get_i64(weft_array *a, size_t i, int64_t *out);
WEFT_API int weft_array_set_i64(weft_array *a, size_t i, int64_t v);
WEFT_API int weft_array_get_u64(weft_array *a, size_t i, uint64_t *out);
WEFT_API int weft_array_set_u64(weft_array *a, size_t i, uint64_t v);
WEFT_API int weft_array_get_double(weft_array *a, size_t i, double *out);
WEFT_API int weft_array_set_double(weft_array *a, size_t i, double v);
/* Atomic add on an integer element, wrapping as the type wraps (signed
 * types wrap as two's complement; for int32 the delta counts modulo
 * 2^32); *result (may be NULL) gets the new value (for uint64 its 64 bits:
 * read it back as (uint64_t)*result). -EINVAL for double or bytes. */
WEFT_API int weft_array_add(weft_array *a, size_t i, int64_t delta,
                            int64_t *result);
/* Atomic compare-exchange on an integer element: if it equals *expected,
 * store desired and return 1; otherwise store its value in *expected and
 * return 0. -EINVAL for double or bytes (or a NULL expected); -ERANGE for
 * an int32 element and a desired value outside int32 (an expected value
 * outside it simply does not match). uint64 elements compare and store
 * the 64 bits of the int64_t values, as weft_array_add does. */
WEFT_API int weft_array_cas(weft_array *a, size_t i, int64_t *expected,
                            int64_t desired);
/* Bytes elements: copy in (n <= elem_size, -EMSGSIZE otherwise; the rest
 * is zero-filled) and out (all elem_size bytes; cap >= elem_size, -ENOBUFS
 * otherwise). -EINVAL for other types or NULL pointers. With a lock, the
 * copy is made holding it (or under the caller's hold, if the caller
 * already holds it). 0, or WEFT_OWNERDEAD when the copy was made after
 * taking the lock from a dead owner, who may have left elements
 * half-written. */
WEFT_API int weft_array_set_bytes(weft_array *a, size_t i, const void *p,
                                  size_t n);
WEFT_API int weft_array_get_bytes(weft_array *a, size_t i, void *buf,
                                  size_t cap);
/* Direct access to the elements (for loops under the lock, or for your
 * own atomics). Valid while the array lives. */
WEFT_API void *weft_array_data(weft_array *a);
/* -EBUSY while its lock is held. NULL is a no-op. */
WEFT_API int weft_array_destroy(weft_array *a);

/* ---- Value: an array of one --------------------------------------------- */

/* weft_value is a one-element weft_array; every weft_array_* call works on
 * it with index 0. These wrappers read better. */
typedef weft_array weft_value;

static inline int weft_value_create(weft_value **out, weft_arena *where,
                                    int type, size_t elem_size, bool with_lock)
{
    return weft_array_create(out, where, type, 1, elem_size, with_lock);
}
static inline int weft_value_get_i64(weft_value *v, int64_t *out)
{
    return weft_array_get_i64(v, 0, out);
}
static inline int weft_value_set_i64(weft_value *v, int64_t x)
{
    return weft_array_set_i64(v, 0, x);
}
static inline int weft_value_get_double(weft_value *v, double *out)
{
    return weft_array_get_double(v, 0, out);
}
static inline int weft_value_set_double(weft_value *v, double x)
{
    return weft_array_set_double(v, 0, x);
}
static inline int weft_value_add(weft_value *v, int64_t delta, int64_t *result)
{
    return weft_array_add(v, 0, delta, result);
}
static inline int weft_value_cas(weft_value *v, int64_t *expected,
                                 int64_t desired)
{
    return weft_array_cas(v, 0, expected, desired);
}
static inline weft_lock *weft_value_lock(weft_value *v)
{
    return weft_array_lock(v);
}
static inline int weft_value_destroy(weft_value *v)
{
    return weft_array_destroy(v);
}

/* ---- Dict --------------------------------------------------------------- */

typedef struct weft_dict weft_dict;

/* Room for capacity entries (1 .. 2^24), keys of 1 .. max_key bytes
 * (<= 4096) and values of 0 .. max_value bytes (<= 16 MiB). Errors:
 * -EINVAL, -ENOMEM. */
WEFT_API int weft_dict_create(weft_dict **out, weft_arena *where,
                              size_t capacity, size_t max_key,
                              size_t max_value);

/* Keys are NUL-terminated strings; their length without the NUL is what
 * max_key limits. Every call below returns its own result on success, or
 * WEFT_OWNERDEAD when it succeeded after a process died holding the
 * dict's lock (see above). The notice is given once, to the first call
 * after the death that succeeds and can carry it: a call that fails
 * returns its error, and contains and len their answer (see there),
 * leaving it to the next. Common errors: -EINVAL (NULL arguments, empty
 * key), -ENAMETOOLONG (key over max_key), -EDEADLK (called from inside an
 * update or foreach function). */

/* Copy the value of key into buf (cap bytes; buf may be NULL when cap is
 * 0): returns its length; -ENOENT if absent; -ENOBUFS if cap is too small
 * (nothing copied). Whenever the key is found, *len_out (if not NULL) gets
 * the value's length: the only place to find it when get returns
 * WEFT_OWNERDEAD, which it does having copied the value all the same. */
WEFT_API int weft_dict_get(weft_dict *d, const char *key, void *buf, size_t cap,
                           size_t *len_out);
/* Insert or replace. -EMSGSIZE (value over max_value), -ENOSPC (a new key
 * and no free entry). */
WEFT_API int weft_dict_set(weft_dict *d, const char *key, const void *val,
                           size_t len);
/* Remove. -ENOENT if absent. */
WEFT_API int weft_dict_delete(weft_dict *d, const char *key);
/* 1 if key is present, else 0. Never WEFT_OWNERDEAD, which is also 1:
 * after a dead owner, contains and len return their true answer and leave
 * the notice to the next call that can carry it. */
WEFT_API int weft_dict_contains(weft_dict *d, const char *key);
/* Number of entries (never WEFT_OWNERDEAD, as for contains). */
WEFT_API int weft_dict_len(weft_dict *d);

/* Update in place, atomically: fn gets a copy of the value's bytes (buf,
 * with max_value bytes of room) and its length in *len (0 and exists =
 * false if the key is absent; buf's bytes are then unspecified); it may
 * change both; it returns 0 to store the result, 1 to delete the entry
 * (nothing to do if absent), or a negative code to leave the entry as it
 * was and make update return that code (any other value: -EINVAL). The
 * result is stored only after fn returns, so a process killed inside fn
 * leaves the entry as it was. fn runs under the dict's lock: keep it
 * short; a dict call from inside it fails with -EDEADLK. Errors as set
 * (-EMSGSIZE if fn set *len above max_len). */
typedef int (*weft_dict_update_fn)(void *buf, size_t *len, size_t max_len,
                                   bool exists, void *arg);
WEFT_API int weft_dict_update(weft_dict *d, const char *key,
                              weft_dict_update_fn fn, void *arg);
/* The common update: the value is an int64_t (8 bytes, native byte
 * order; an absent key counts as 0): add delta (wrapping as two's
 * complement), store, and set *result (may be NULL). -EPROTO if the stored
 * value is not 8 bytes, -EMSGSIZE if max_value is under 8. */
WEFT_API int weft_dict_add_i64(weft_dict *d, const char *key, int64_t delta,
                               int64_t *result);

/* Iterate: call fn(key, value, len, arg) for every entry, in no particular
 * order, under the lock (a snapshot of one instant); fn returns 0 to go on
 * or anything else to stop, which foreach then returns as it is (0 or
 * WEFT_OWNERDEAD when fn saw every entry). The pointers are valid only
 * during the call. fn must not call the dict (-EDEADLK). */
typedef int (*weft_dict_foreach_fn)(const char *key, const void *val,
                                    size_t len, void *arg);
WEFT_API int weft_dict_foreach(weft_dict *d, weft_dict_foreach_fn fn,
                               void *arg);
/* Remove every entry. */
WEFT_API int weft_dict_clear(weft_dict *d);
/* -EBUSY while its lock is held. NULL is a no-op. */
WEFT_API int weft_dict_destroy(weft_dict *d);

#ifdef __cplusplus
}
#endif
#endif
