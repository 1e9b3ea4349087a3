/* dict.c - weft_dict: a fixed-size hash table from string keys to byte
 * values, in private or shared memory, guarded by one robust lock, whose
 * every change survives the death of the process making it.
 *
 * Layout: one allocation, found by offsets from its own address (a named
 * arena may map it anywhere, so it holds no pointers):
 *
 *   [struct weft_dict | scratch: max_value bytes | slot 0 | slot 1 | ...]
 *
 * The table has a power of two of slots, at least capacity * 4/3 of them,
 * so linear probing stays short at the admitted maximum of `capacity`
 * entries (a load factor of 3/4 at most). Each slot is
 *
 *   [struct slot {state, key_len, val_len, hash} | key + NUL | value]
 *
 * padded to 8 bytes. A deleted entry becomes a tombstone so that the
 * probe chains running through it stay intact; an insert reuses the first
 * tombstone on its chain, and a delete turns the tombstones in front of an
 * empty slot back into empty ones (a chain that reaches them ends at that
 * empty slot anyway), so a dict under churn keeps its empty slots.
 *
 * Surviving a death. Every call holds the lock, a robust one: a process
 * killed holding it (even by SIGKILL) leaves it to the next caller with
 * WEFT_OWNERDEAD. What must hold then is that the table is never
 * half-changed. Each change therefore reaches the table through one
 * committing store, made last:
 *   - a new entry is written into a free slot, which only the final store
 *     of its state (USED) makes visible;
 *   - a delete is the single store of TOMBSTONE; the tidying after it
 *     turns tombstones to empty one slot at a time, each step valid alone;
 *   - a new value for an existing entry cannot be written in place
 *     atomically, so it goes through a redo journal: the value is built in
 *     the scratch area (weft_dict_update runs the caller's function there,
 *     on a copy), then the journal {slot, length} is armed, then the value
 *     is copied into the slot, then the journal is cleared. A death before
 *     the journal is armed - inside the caller's function, say - leaves
 *     the entry untouched; a death after it leaves a journal that the next
 *     holder of the lock replays, so the entry ends up with the new value;
 *   - clear is journalled the same way and replayed whole.
 * The count of entries is recounted from the slots after a death, as the
 * dead process may have died between a commit and the count's update.
 *
 * The WEFT_OWNERDEAD notice is delivered once, to the first call that can
 * carry it: one that succeeds with a result that cannot be mistaken for it
 * (contains and len return 0 or 1 and a count, so they leave it for the
 * next call).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sync/dict_int.h"
#include "sync/lock_int.h"
#include "sync/sync_int.h"

#include <weft/shared.h>

#define MAX_CAPACITY ((size_t)1 << 24)
#define MAX_KEY      ((size_t)4096)
#define MAX_VALUE    ((size_t)16 << 20)

enum { SLOT_EMPTY = 0, SLOT_USED = 1, SLOT_TOMB = 2 };
enum { JOURNAL_NONE = 0, JOURNAL_WRITE = 1, JOURNAL_CLEAR = 2 };

struct slot {
    uint32_t state;   /* SLOT_*; zero-filled memory is an empty table */
    uint32_t key_len; /* without the NUL */
    uint32_t val_len; /* the value's bytes in use */
    uint32_t unused;  /* keeps hash 8-byte aligned */
    uint64_t hash;    /* of the key, to skip most key comparisons */
    /* then key[max_key + 1], value[max_value] */
};

struct weft_dict {
    /* Fixed at creation. */
    uint64_t capacity;    /* most entries admitted */
    uint64_t mask;        /* slots - 1 (slots: a power of two) */
    uint64_t max_key;     /* longest key, without its NUL */
    uint64_t max_value;   /* largest value */
    uint64_t slot_size;   /* bytes per slot, a multiple of 8 */
    uint64_t scratch_off; /* scratch value area, from the object start */
    uint64_t slots_off;   /* slot 0, from the object start */
    bool shared;          /* placement, for weft__unplace */
    /* Under the lock. On their own cache line, away from the read-only
     * sizes above that every call reads. */
    uint64_t count __attribute__((aligned(64))); /* entries (slots USED) */
    uint32_t journal;         /* JOURNAL_*: a change to replay */
    uint32_t dead_unreported; /* a dead owner not yet told to a caller */
    uint64_t journal_slot;    /* JOURNAL_WRITE: which slot */
    uint64_t journal_len;     /* JOURNAL_WRITE: the new value's length */
    /* Its own line too: waiters hammering it must not slow the holder. */
    struct weft_lock lock __attribute__((aligned(64)));
};

void (*weft__dict_commit_hook)(void *dst, size_t len);

/* ---- Layout ------------------------------------------------------------- */

static inline struct slot *slot_at(weft_dict *d, uint64_t i)
{
    return (struct slot *)(void *)((char *)d + d->slots_off + i * d->slot_size);
}

static inline char *slot_key(struct slot *s)
{
    return (char *)(s + 1);
}

static inline char *slot_val(weft_dict *d, struct slot *s)
{
    return (char *)(s + 1) + d->max_key + 1;
}

static inline char *scratch(weft_dict *d)
{
    return (char *)d + d->scratch_off;
}

static inline size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) & ~(to - 1);
}

/* FNV-1a, finished with MurmurHash3's 64-bit mixer: the table index is the
 * low bits of the hash, and FNV alone leaves them poorly mixed for keys
 * that differ only in their last bytes ("key1", "key2", ...). */
static uint64_t hash_key(const char *key, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* ---- Table operations (all under the lock) ------------------------------ */

/* The slot holding key, or -1 when absent; then *free_at is where an
 * insert belongs: the first tombstone on the key's chain, else the empty
 * slot that ends it (UINT64_MAX if there is neither, which the admission
 * limit rules out: at most capacity of the more slots are ever used). */
static int64_t find(weft_dict *d, const char *key, size_t klen, uint64_t h,
                    uint64_t *free_at)
{
    uint64_t i = h & d->mask, n;
    bool have_free = false;
    struct slot *s;

    *free_at = UINT64_MAX;
    for (n = 0; n <= d->mask; n++, i = (i + 1) & d->mask) {
        s = slot_at(d, i);
        if (s->state == SLOT_EMPTY) {
            if (!have_free)
                *free_at = i;
            return -1;
        }
        if (s->state == SLOT_TOMB) {
            if (!have_free) {
                *free_at = i;
                have_free = true;
            }
            continue;
        }
        if (s->hash == h && s->key_len == klen &&
            memcmp(slot_key(s), key, klen) == 0)
            return (int64_t)i;
    }
    return -1;
}

/* A new entry in free slot i, from src. Everything is written while the
 * slot is still invisible; the store of its state is the commit. */
static void insert_at(weft_dict *d, uint64_t i, const char *key, size_t klen,
                      uint64_t h, const void *src, size_t len)
{
    struct slot *s = slot_at(d, i);

    memcpy(slot_key(s), key, klen);
    slot_key(s)[klen] = '\0';
    s->key_len = (uint32_t)klen;
    s->hash = h;
    if (len > 0)
        memcpy(slot_val(d, s), src, len);
    s->val_len = (uint32_t)len;
    __atomic_store_n(&s->state, SLOT_USED, __ATOMIC_RELEASE);
    d->count++;
}

static void replay_write(weft_dict *d)
{
    struct slot *s = slot_at(d, d->journal_slot);

    if (d->journal_len > 0)
        memcpy(slot_val(d, s), scratch(d), d->journal_len);
    __atomic_store_n(&s->val_len, (uint32_t)d->journal_len, __ATOMIC_RELEASE);
}

/* Give existing entry i the value now in the scratch area (len bytes),
 * through the journal. The release stores keep the compiler from moving
 * the copy out from between arming and clearing. */
static void overwrite(weft_dict *d, uint64_t i, size_t len)
{
    d->journal_slot = i;
    d->journal_len = len;
    __atomic_store_n(&d->journal, JOURNAL_WRITE, __ATOMIC_RELEASE);
    if (weft__dict_commit_hook)
        weft__dict_commit_hook(slot_val(d, slot_at(d, i)), len);
    replay_write(d);
    __atomic_store_n(&d->journal, JOURNAL_NONE, __ATOMIC_RELEASE);
}

/* Remove entry i: the tombstone is the commit; the tidying after it is
 * optional and safe to stop anywhere. */
static void remove_at(weft_dict *d, uint64_t i)
{
    uint64_t j;

    __atomic_store_n(&slot_at(d, i)->state, SLOT_TOMB, __ATOMIC_RELEASE);
    d->count--;
    if (slot_at(d, (i + 1) & d->mask)->state != SLOT_EMPTY)
        return;
    /* Walks back at most over the table: the empty slot after i stops it
     * should every other slot be a tombstone. */
    for (j = i; slot_at(d, j)->state == SLOT_TOMB; j = (j - 1) & d->mask)
        __atomic_store_n(&slot_at(d, j)->state, SLOT_EMPTY, __ATOMIC_RELEASE);
}

static void replay_clear(weft_dict *d)
{
    uint64_t i;

    for (i = 0; i <= d->mask; i++)
        slot_at(d, i)->state = SLOT_EMPTY;
    d->count = 0;
}

/* After taking the lock from a dead owner: finish what its journal says,
 * and count the entries again. The journal's fields are checked before
 * use: the dead process may have been killed for scribbling. */
static void repair(weft_dict *d)
{
    uint64_t i, n = 0;

    if (d->journal == JOURNAL_WRITE && d->journal_slot <= d->mask &&
        d->journal_len <= d->max_value &&
        slot_at(d, d->journal_slot)->state == SLOT_USED)
        replay_write(d);
    else if (d->journal == JOURNAL_CLEAR)
        replay_clear(d);
    d->journal = JOURNAL_NONE;
    for (i = 0; i <= d->mask; i++) {
        struct slot *s = slot_at(d, i);
        if (s->state != SLOT_USED && s->state != SLOT_EMPTY)
            s->state = SLOT_TOMB; /* only TOMB is left, unless scribbled */
        else if (s->state == SLOT_USED)
            n++;
    }
    d->count = n;
}

/* ---- Locking ------------------------------------------------------------ */

/* Take the lock, repairing after a dead owner. 0 or -errno (-EDEADLK when
 * called from inside an update or foreach function). */
static int dict_lock(weft_dict *d)
{
    int rc = weft_lock_acquire(&d->lock, -1);

    if (rc == WEFT_OWNERDEAD) {
        repair(d);
        d->dead_unreported = 1;
        rc = 0;
    }
    return rc;
}

/* Release, handing a pending dead-owner notice to this call's caller if
 * the call succeeded and its result can carry it. */
static int dict_unlock(weft_dict *d, int rc, bool can_report)
{
    if (rc >= 0 && can_report && d->dead_unreported) {
        d->dead_unreported = 0;
        rc = WEFT_OWNERDEAD;
    }
    weft_lock_release(&d->lock);
    return rc;
}

static int check_key(const weft_dict *d, const char *key, size_t *klen)
{
    if (!d || !key || !key[0])
        return -EINVAL;
    *klen = strnlen(key, d->max_key + 1);
    if (*klen > d->max_key)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- Lifetime ----------------------------------------------------------- */

int weft_dict_create(weft_dict **out, weft_arena *where, size_t capacity,
                     size_t max_key, size_t max_value)
{
    size_t slots = 1, slot_size, size, want;
    weft_dict *d;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (capacity < 1 || capacity > MAX_CAPACITY || max_key < 1 ||
        max_key > MAX_KEY || max_value > MAX_VALUE)
        return -EINVAL;
    want = capacity + (capacity + 2) / 3; /* ceil(capacity * 4/3) */
    while (slots < want)
        slots <<= 1;
    slot_size = round_up(sizeof(struct slot) + max_key + 1 + max_value, 8);
    /* Cannot overflow within the limits above (under 2^50 bytes), but the
     * arena or malloc says -ENOMEM long before. */
    size = round_up(sizeof *d, 64) + round_up(max_value, 64);
    if (__builtin_mul_overflow(slots, slot_size, &want) ||
        __builtin_add_overflow(size, want, &size))
        return -ENOMEM;
    rc = weft__place(where, size, (void **)&d, &shared);
    if (rc < 0)
        return rc;
    d->capacity = capacity;
    d->mask = slots - 1;
    d->max_key = max_key;
    d->max_value = max_value;
    d->slot_size = slot_size;
    d->scratch_off = round_up(sizeof *d, 64);
    d->slots_off = d->scratch_off + round_up(max_value, 64);
    d->shared = shared;
    rc = weft__lock_init(&d->lock, shared);
    if (rc < 0) {
        weft__unplace(d, shared);
        return rc;
    }
    *out = d;
    return 0;
}

int weft_dict_destroy(weft_dict *d)
{
    int rc;

    if (!d)
        return 0;
    rc = weft__lock_fini(&d->lock);
    if (rc < 0)
        return rc;
    weft__unplace(d, d->shared);
    return 0;
}

/* ---- Calls -------------------------------------------------------------- */

int weft_dict_get(weft_dict *d, const char *key, void *buf, size_t cap,
                  size_t *len_out)
{
    uint64_t h, free_at;
    struct slot *s;
    size_t klen, len;
    int64_t i;
    int rc;

    rc = check_key(d, key, &klen);
    if (rc < 0)
        return rc;
    if (!buf && cap > 0)
        return -EINVAL;
    h = hash_key(key, klen);
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    i = find(d, key, klen, h, &free_at);
    if (i < 0) {
        rc = -ENOENT;
    } else {
        s = slot_at(d, (uint64_t)i);
        len = s->val_len;
        if (len_out)
            *len_out = len;
        if (len > cap) {
            rc = -ENOBUFS;
        } else {
            if (len > 0)
                memcpy(buf, slot_val(d, s), len);
            rc = (int)len;
        }
    }
    /* A WEFT_OWNERDEAD from here has copied the value all the same; its
     * length is then in *len_out only. */
    return dict_unlock(d, rc, true);
}

int weft_dict_set(weft_dict *d, const char *key, const void *val, size_t len)
{
    uint64_t h, free_at;
    size_t klen;
    int64_t i;
    int rc;

    rc = check_key(d, key, &klen);
    if (rc < 0)
        return rc;
    if (!val && len > 0)
        return -EINVAL;
    if (len > d->max_value)
        return -EMSGSIZE;
    h = hash_key(key, klen);
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    i = find(d, key, klen, h, &free_at);
    if (i >= 0) {
        if (len > 0)
            memcpy(scratch(d), val, len);
        overwrite(d, (uint64_t)i, len);
    } else if (d->count >= d->capacity || free_at == UINT64_MAX) {
        rc = -ENOSPC;
    } else {
        insert_at(d, free_at, key, klen, h, val, len);
    }
    return dict_unlock(d, rc, true);
}

int weft_dict_delete(weft_dict *d, const char *key)
{
    uint64_t h, free_at;
    size_t klen;
    int64_t i;
    int rc;

    rc = check_key(d, key, &klen);
    if (rc < 0)
        return rc;
    h = hash_key(key, klen);
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    i = find(d, key, klen, h, &free_at);
    if (i < 0)
        rc = -ENOENT;
    else
        remove_at(d, (uint64_t)i);
    return dict_unlock(d, rc, true);
}

int weft_dict_contains(weft_dict *d, const char *key)
{
    uint64_t h, free_at;
    size_t klen;
    int rc;

    rc = check_key(d, key, &klen);
    if (rc < 0)
        return rc;
    h = hash_key(key, klen);
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    rc = find(d, key, klen, h, &free_at) >= 0;
    return dict_unlock(d, rc, false);
}

int weft_dict_len(weft_dict *d)
{
    int rc;

    if (!d)
        return -EINVAL;
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    return dict_unlock(d, (int)d->count, false);
}

int weft_dict_update(weft_dict *d, const char *key, weft_dict_update_fn fn,
                     void *arg)
{
    uint64_t h, free_at;
    struct slot *s = NULL;
    size_t klen, len = 0;
    int64_t i;
    int rc;

    rc = check_key(d, key, &klen);
    if (rc < 0)
        return rc;
    if (!fn)
        return -EINVAL;
    h = hash_key(key, klen);
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    i = find(d, key, klen, h, &free_at);
    if (i >= 0) {
        s = slot_at(d, (uint64_t)i);
        len = s->val_len;
        if (len > 0)
            memcpy(scratch(d), slot_val(d, s), len);
    }
    /* fn works on the copy: until overwrite() arms the journal, the entry
     * itself is untouched, whatever happens to this process in fn. */
    rc = fn(scratch(d), &len, d->max_value, i >= 0, arg);
    if (rc == 1) {
        if (i >= 0)
            remove_at(d, (uint64_t)i);
        rc = 0;
    } else if (rc == 0) {
        if (len > d->max_value)
            rc = -EMSGSIZE;
        else if (i >= 0)
            overwrite(d, (uint64_t)i, len);
        else if (d->count >= d->capacity || free_at == UINT64_MAX)
            rc = -ENOSPC;
        else
            insert_at(d, free_at, key, klen, h, scratch(d), len);
    } else if (rc > 1) {
        rc = -EINVAL;
    }
    return dict_unlock(d, rc, true);
}

struct add_arg {
    int64_t delta;
    int64_t result;
};

static int add_fn(void *buf, size_t *len, size_t max_len, bool exists,
                  void *arg)
{
    struct add_arg *a = arg;
    int64_t v = 0;

    if (exists) {
        if (*len != sizeof v)
            return -EPROTO;
        memcpy(&v, buf, sizeof v); /* the slot copy may be unaligned */
    }
    if (max_len < sizeof v)
        return -EMSGSIZE;
    /* Wraps as two's complement, as weft_array_add does. */
    v = (int64_t)((uint64_t)v + (uint64_t)a->delta);
    memcpy(buf, &v, sizeof v);
    *len = sizeof v;
    a->result = v;
    return 0;
}

int weft_dict_add_i64(weft_dict *d, const char *key, int64_t delta,
                      int64_t *result)
{
    struct add_arg a = {delta, 0};
    int rc = weft_dict_update(d, key, add_fn, &a);

    if (rc >= 0 && result)
        *result = a.result;
    return rc;
}

int weft_dict_foreach(weft_dict *d, weft_dict_foreach_fn fn, void *arg)
{
    struct slot *s;
    uint64_t i;
    int rc;

    if (!d || !fn)
        return -EINVAL;
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    for (i = 0; i <= d->mask && rc == 0; i++) {
        s = slot_at(d, i);
        if (s->state == SLOT_USED)
            rc = fn(slot_key(s), slot_val(d, s), s->val_len, arg);
    }
    /* fn's own stop value is returned as it is; the dead-owner notice, if
     * any, waits for the next call. */
    return dict_unlock(d, rc, rc == 0);
}

int weft_dict_clear(weft_dict *d)
{
    int rc;

    if (!d)
        return -EINVAL;
    rc = dict_lock(d);
    if (rc < 0)
        return rc;
    __atomic_store_n(&d->journal, JOURNAL_CLEAR, __ATOMIC_RELEASE);
    if (weft__dict_commit_hook)
        weft__dict_commit_hook(NULL, 0);
    replay_clear(d);
    __atomic_store_n(&d->journal, JOURNAL_NONE, __ATOMIC_RELEASE);
    return dict_unlock(d, 0, true);
}
