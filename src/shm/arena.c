/* arena.c - an allocator that lives inside a shared region, so that any
 * process mapping the region can allocate and free, and a process killed
 * in the middle of either leaves an arena the others can still use.
 *
 * Layout (all positions are offsets from the arena start, never pointers:
 * each process may map the arena at a different address)
 *
 *   0      struct arena_hdr: magic, version, sizes, the robust lock, the
 *          root, the head of the free list
 *   first  block, block, ..., block       up to end (end <= size)
 *
 *   A block is a 32-byte header followed by its payload. Headers sit at
 *   offsets = 32 (mod 64) and block sizes are multiples of 64, so every
 *   payload is 64-byte aligned and the blocks tile [first, end) exactly:
 *   the next block starts at off + size. That chain of sizes is the
 *   arena's one source of truth. Each header also carries its own offset
 *   (so weft_arena_free finds the arena from the pointer alone), the size
 *   of the block before it (a boundary tag, to merge with it in O(1)), a
 *   magic and a state (free or in use). Free blocks are also linked into a
 *   doubly linked free list through the first 16 bytes of their payload;
 *   allocation is first fit over that list, and free merges a block with
 *   free neighbours at once, so no two free blocks ever touch.
 *
 * Surviving a death in the allocator
 *   Everything below runs under the arena's robust process-shared mutex.
 *   If its owner dies, the next locker is told (WEFT_OWNERDEAD) and must
 *   repair what the dead process left half-done. The repair trusts only
 *   the chain: it walks it, checking every header (magic, offset, size,
 *   state, bounds) before writing anything, then merges neighbouring free
 *   blocks and rebuilds the free list and the boundary tags from scratch.
 *   The free list and the tags are derived data, so it does not matter in
 *   what state the dead process left them. What matters is that the chain
 *   is walkable and truthful at every instant, which the order of the
 *   updates guarantees:
 *     - a new header (the rest of a split block) is written completely,
 *       inside its still-free parent where no walk reaches it, before one
 *       store of the parent's size makes it part of the chain;
 *     - a merge is one store of the surviving block's size; the absorbed
 *       header drops out of the chain with that store and only then loses
 *       its magic;
 *     - a block becomes "in use" last in alloc and "free" first in free, so
 *       a block the chain calls free never belongs to a live caller. A
 *       death in between leaves a free block off the list, or two free
 *       neighbours: the repair relinks and merges them. A block allocated
 *       by a process that died before it returned is lost (like the rest
 *       of that process's blocks).
 *   Each size, state and magic is one aligned 64- or 32-bit store, so it is
 *   never torn; STEP() keeps the compiler from reordering the stores (the
 *   kernel's exit path makes a dead process's stores visible to the next
 *   locker). A repair that is itself killed is simply redone by the next
 *   locker. If the walk finds a header that no death can explain (memory
 *   overwritten by a stray write), the arena is marked broken and every
 *   later call fails with -ENOTRECOVERABLE instead of trusting it. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/log_int.h"
#include "shm/shm_int.h"
#include "sync/sync_int.h"

#include <weft/sync.h>

#define ARENA_MAGIC   0x414e455241544657ull /* "WFTARENA" */
#define ARENA_VERSION 1
#define BLK_MAGIC     0x6b6c4257u /* "WBlk" */
#define BLK_FREE      0x45455246u /* "FREE" */
#define BLK_USED      0x44455355u /* "USED" */
#define ALIGN         64
#define BHDR          32 /* block header bytes */
#define MIN_BLOCK     64 /* header and the free-list links */
#define MIN_ARENA     4096
#define DEFAULT_SIZE  ((size_t)64 << 20)
/* mmap addresses are page aligned, and pages are at least this big. */
#define MIN_PAGE 4096

struct arena_hdr {
    uint64_t magic;     /* ARENA_MAGIC; written last when formatting */
    uint32_t version;   /* ARENA_VERSION */
    uint32_t hdr_size;  /* sizeof(struct arena_hdr): a layout check */
    uint64_t size;      /* bytes of the arena */
    uint64_t first;     /* offset of the first block (ARENA_FIRST) */
    uint64_t end;       /* offset just past the last block */
    uint64_t free_head; /* first block on the free list, 0 if none */
    uint64_t root;      /* offset of the root object, 0 for none */
    uint32_t broken;    /* the chain was found corrupt: unusable */
    uint32_t recovered; /* repairs after a death, for tests and logs */
    /* On its own cache line: every process hammers it. */
    pthread_mutex_t lock __attribute__((aligned(64)));
};

struct blk {
    uint64_t off;       /* offset of this header from the arena start */
    uint64_t size;      /* bytes of the block, header included */
    uint64_t prev_size; /* size of the block before; 0 for the first */
    uint32_t magic;     /* BLK_MAGIC; cleared when a neighbour absorbs it */
    uint32_t state;     /* BLK_FREE or BLK_USED */
};

/* In the payload of a free block. */
struct links {
    uint64_t next; /* next free block, 0 at the end */
    uint64_t prev; /* previous free block, 0 at the head */
};

/* The first block header: the first offset = 32 (mod 64) after the arena
 * header. */
#define ARENA_FIRST                                                            \
    (((sizeof(struct arena_hdr) + BHDR + ALIGN - 1) &                          \
      ~(uint64_t)(ALIGN - 1)) -                                                \
     BHDR)

_Static_assert(sizeof(struct blk) == BHDR, "block header size");
_Static_assert(sizeof(struct links) + BHDR <= MIN_BLOCK, "free links fit");
_Static_assert(ARENA_FIRST % ALIGN == ALIGN - BHDR, "payloads aligned");
_Static_assert(ARENA_FIRST + MIN_BLOCK <= MIN_ARENA, "room for a block");

struct weft_arena {
    weft_region *region;   /* the mapping */
    struct arena_hdr *hdr; /* its start */
    size_t size;           /* bytes mapped */
};

void (*weft__arena_crash_hook)(int point);

/* SET: one aligned store, which a death cannot tear. STEP: the end of one
 * step of an update; the compiler may not move stores across it, so the
 * steps reach memory in program order (see the top of the file). The
 * test hook may end the process right there. */
#define SET(lv, v) __atomic_store_n(&(lv), (v), __ATOMIC_RELAXED)
#define STEP(point)                                                            \
    do {                                                                       \
        atomic_signal_fence(memory_order_seq_cst);                             \
        if (weft__arena_crash_hook)                                            \
            weft__arena_crash_hook(point);                                     \
    } while (0)

static inline struct blk *blk_at(struct arena_hdr *h, uint64_t off)
{
    return (struct blk *)((char *)h + off);
}

static inline struct links *links_of(struct blk *b)
{
    return (struct links *)(b + 1);
}

/* Where the chain of an arena of size bytes ends: whole 64-byte blocks
 * from ARENA_FIRST. */
static uint64_t arena_end(uint64_t size)
{
    return ARENA_FIRST + ((size - ARENA_FIRST) & ~(uint64_t)(ALIGN - 1));
}

/* ---- Free list (trusted only while the arena is consistent) ------------ */

static void list_push(struct arena_hdr *h, struct blk *b)
{
    struct links *l = links_of(b);

    l->prev = 0;
    l->next = h->free_head;
    if (h->free_head)
        links_of(blk_at(h, h->free_head))->prev = b->off;
    h->free_head = b->off;
}

static void list_remove(struct arena_hdr *h, struct blk *b)
{
    struct links *l = links_of(b);

    if (l->prev)
        links_of(blk_at(h, l->prev))->next = l->next;
    else
        h->free_head = l->next;
    if (l->next)
        links_of(blk_at(h, l->next))->prev = l->prev;
}

/* ---- Repair after a death ----------------------------------------------- */

static bool header_sane(const struct arena_hdr *h)
{
    return h->magic == ARENA_MAGIC && h->version == ARENA_VERSION &&
           h->hdr_size == sizeof *h && h->size >= MIN_ARENA &&
           h->first == ARENA_FIRST && h->end == arena_end(h->size);
}

/* Is the block at off a well-formed member of the chain? Reads only. */
static bool blk_sane(struct arena_hdr *h, uint64_t off)
{
    struct blk *b;

    if (off >= h->end || h->end - off < MIN_BLOCK)
        return false;
    b = blk_at(h, off);
    return b->magic == BLK_MAGIC && b->off == off && b->size >= MIN_BLOCK &&
           b->size % ALIGN == 0 && b->size <= h->end - off &&
           (b->state == BLK_FREE || b->state == BLK_USED);
}

/* Walk the chain, writing nothing. true if it tiles [first, end). */
static bool chain_sane(struct arena_hdr *h)
{
    uint64_t off;

    if (!header_sane(h))
        return false;
    for (off = h->first; off < h->end; off += blk_at(h, off)->size)
        if (!blk_sane(h, off))
            return false;
    return off == h->end;
}

/* Bring the derived state back in line with the chain: merge free
 * neighbours, rebuild the boundary tags and the free list (in address
 * order). Lock held, chain checked. Dying in here is survivable too: each
 * merge is one size store, and the next locker starts over. */
static void rebuild(struct arena_hdr *h)
{
    uint64_t off, prev_size = 0, tail = 0;
    struct blk *b, *n;

    h->free_head = 0;
    for (off = h->first; off < h->end; off += b->size) {
        b = blk_at(h, off);
        b->prev_size = prev_size;
        if (b->state == BLK_FREE) {
            while (off + b->size < h->end) {
                n = blk_at(h, off + b->size);
                if (n->state != BLK_FREE)
                    break;
                SET(b->size, b->size + n->size);
                STEP(16);
                SET(n->magic, 0);
            }
            links_of(b)->next = 0;
            links_of(b)->prev = tail;
            if (tail)
                links_of(blk_at(h, tail))->next = off;
            else
                h->free_head = off;
            tail = off;
        }
        prev_size = b->size;
    }
}

/* Lock the arena. A previous owner that died is repaired after here; an
 * arena found corrupt then, or before, gives -ENOTRECOVERABLE (unlocked). */
static int arena_lock(struct arena_hdr *h)
{
    int rc = weft__rmutex_lock(&h->lock, -1);

    if (rc < 0)
        return rc;
    if (rc == WEFT_OWNERDEAD && !h->broken) {
        h->recovered++;
        if (chain_sane(h)) {
            rebuild(h);
            weft__log(WEFT_LOG_WARN,
                      "arena: a process died in the allocator; repaired");
        } else {
            SET(h->broken, 1);
            weft__log(WEFT_LOG_ERROR, "arena: a process died in the "
                                      "allocator and the arena is corrupt");
        }
    }
    if (__atomic_load_n(&h->broken, __ATOMIC_RELAXED)) {
        weft__rmutex_unlock(&h->lock);
        return -ENOTRECOVERABLE;
    }
    return 0;
}

static void arena_unlock(struct arena_hdr *h)
{
    weft__rmutex_unlock(&h->lock);
}

/* ---- Creating and opening ------------------------------------------------ */

/* Lay out a fresh (zero-filled) region as an empty arena. */
static int arena_format(void *base, size_t size)
{
    struct arena_hdr *h = base;
    struct blk *b;
    int rc;

    h->version = ARENA_VERSION;
    h->hdr_size = sizeof *h;
    h->size = size;
    h->first = ARENA_FIRST;
    h->end = arena_end(size);
    rc = weft__rmutex_init(&h->lock, true);
    if (rc < 0)
        return rc;
    b = blk_at(h, h->first);
    b->off = h->first;
    b->size = h->end - h->first;
    b->prev_size = 0;
    b->state = BLK_FREE;
    b->magic = BLK_MAGIC;
    links_of(b)->next = 0;
    links_of(b)->prev = 0;
    h->free_head = h->first;
    /* Last: an opener that sees the magic sees all of the above. */
    __atomic_store_n(&h->magic, ARENA_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

static int arena_wrap(weft_arena **out, weft_region *r)
{
    weft_arena *a = malloc(sizeof *a);

    if (!a)
        return -ENOMEM;
    a->region = r;
    a->hdr = weft_region_addr(r);
    a->size = weft_region_size(r);
    *out = a;
    return 0;
}

int weft_arena_create(weft_arena **out, size_t size)
{
    weft_region *r;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (size < MIN_ARENA)
        return -EINVAL;
    rc = weft_region_create(&r, size);
    if (rc < 0)
        return rc;
    rc = arena_format(weft_region_addr(r), weft_region_size(r));
    if (rc == 0)
        rc = arena_wrap(out, r);
    if (rc < 0)
        weft_region_close(r);
    return rc;
}

int weft_arena_create_named(weft_arena **out, const char *name, size_t size,
                            unsigned mode)
{
    weft_region *r;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (size < MIN_ARENA)
        return -EINVAL;
    rc = weft_region_create_named(&r, name, size, mode);
    if (rc < 0)
        return rc;
    rc = arena_format(weft_region_addr(r), weft_region_size(r));
    if (rc == 0)
        rc = arena_wrap(out, r);
    if (rc < 0) {
        weft_region_close(r);
        weft_region_unlink(name);
    }
    return rc;
}

int weft_arena_open(weft_arena **out, const char *name)
{
    struct arena_hdr *h;
    weft_region *r;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = weft_region_open(&r, name);
    if (rc < 0)
        return rc;
    h = weft_region_addr(r);
    if (weft_region_size(r) < MIN_ARENA) {
        rc = -EPROTO;
    } else if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == 0) {
        /* Its creator is still formatting it (or it is not an arena). */
        rc = -EAGAIN;
    } else if (!header_sane(h) || h->size != weft_region_size(r)) {
        rc = -EPROTO;
    } else {
        rc = arena_wrap(out, r);
    }
    if (rc < 0)
        weft_region_close(r);
    return rc;
}

static weft_arena *default_arena;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    weft_region *r;

    /* MAP_NORESERVE: 64 MiB of address space, memory taken only as the
     * pages are touched, so every process can afford one. */
    if (weft__region_create_anon(&r, DEFAULT_SIZE, MAP_NORESERVE) < 0)
        return;
    if (arena_format(weft_region_addr(r), weft_region_size(r)) < 0 ||
        arena_wrap(&default_arena, r) < 0)
        weft_region_close(r);
}

weft_arena *weft_arena_default(void)
{
    pthread_once(&default_once, default_init);
    return default_arena;
}

/* WEFT_SHARED stands for the default arena in every call. */
static weft_arena *resolve(const weft_arena *a)
{
    if (a == WEFT_SHARED)
        return weft_arena_default();
    return (weft_arena *)a;
}

int weft_arena_close(weft_arena *a)
{
    int rc;

    if (!a)
        return 0;
    if (a == WEFT_SHARED || a == default_arena)
        return -EINVAL;
    rc = weft_region_close(a->region);
    free(a);
    return rc;
}

/* ---- Allocation ---------------------------------------------------------- */

int weft_arena_alloc(weft_arena *a, size_t size, void **out)
{
    struct arena_hdr *h;
    struct blk *b = NULL, *r;
    uint64_t off, need, rest;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!a)
        return -EINVAL;
    a = resolve(a);
    if (!a)
        return -ENOMEM;
    if (size == 0)
        return -EINVAL;
    h = a->hdr;
    if (size > h->end)
        return -ENOMEM;
    need = (size + BHDR + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);

    rc = arena_lock(h);
    if (rc < 0)
        return rc;
    for (off = h->free_head; off; off = links_of(b)->next) {
        b = blk_at(h, off);
        if (b->size >= need)
            break;
    }
    if (!off) {
        arena_unlock(h);
        return -ENOMEM;
    }
    list_remove(h, b);
    STEP(1);
    rest = b->size - need;
    if (rest >= MIN_BLOCK) {
        /* Split: the rest's header first, inside b where no walk looks;
         * then one store of b's size puts it in the chain. */
        r = blk_at(h, off + need);
        r->off = off + need;
        r->size = rest;
        r->prev_size = need;
        r->state = BLK_FREE;
        r->magic = BLK_MAGIC;
        STEP(2);
        if (off + b->size < h->end)
            blk_at(h, off + b->size)->prev_size = rest;
        STEP(3);
        SET(b->size, need);
        STEP(4);
        list_push(h, r);
        STEP(5);
    }
    SET(b->state, BLK_USED);
    STEP(6);
    need = b->size;
    arena_unlock(h);
    /* The block is ours now: clear it outside the lock. This also wipes
     * the free-list links and any stale header of a merged block. */
    memset(b + 1, 0, need - BHDR);
    *out = b + 1;
    return 0;
}

int weft_arena_free(void *p)
{
    struct arena_hdr *h;
    struct blk *b, *n, *pb;
    uint64_t off, next;
    uintptr_t base;
    int rc;

    if (!p)
        return 0;
    if ((uintptr_t)p % ALIGN)
        return -EINVAL;
    /* Find the arena from the header alone, checking each step before
     * following it. The magic and offset of a live block do not change,
     * so reading them before taking the lock is safe. */
    b = (struct blk *)p - 1;
    if (__atomic_load_n(&b->magic, __ATOMIC_RELAXED) != BLK_MAGIC)
        return -EINVAL;
    off = __atomic_load_n(&b->off, __ATOMIC_RELAXED);
    if (off % ALIGN != ALIGN - BHDR || off < ARENA_FIRST || off > (uintptr_t)b)
        return -EINVAL;
    base = (uintptr_t)b - off;
    if (base % MIN_PAGE)
        return -EINVAL;
    h = (struct arena_hdr *)base;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != ARENA_MAGIC ||
        h->version != ARENA_VERSION || off >= h->end)
        return -EINVAL;

    rc = arena_lock(h);
    if (rc < 0)
        return rc;
    /* Again under the lock: a double free (or two racing frees of one
     * block) finds the state the first free left. */
    if (!blk_sane(h, off) || b->state != BLK_USED) {
        arena_unlock(h);
        return -EINVAL;
    }
    STEP(7);
    SET(b->state, BLK_FREE);
    STEP(8);
    next = off + b->size;
    if (next < h->end && blk_at(h, next)->state == BLK_FREE) {
        n = blk_at(h, next);
        list_remove(h, n);
        STEP(9);
        SET(b->size, b->size + n->size);
        STEP(10);
        SET(n->magic, 0);
        STEP(11);
        if (off + b->size < h->end)
            blk_at(h, off + b->size)->prev_size = b->size;
        STEP(12);
    }
    if (b->prev_size) {
        pb = blk_at(h, off - b->prev_size);
        if (pb->state == BLK_FREE) {
            /* pb is on the free list already and stays there. */
            SET(pb->size, pb->size + b->size);
            STEP(13);
            SET(b->magic, 0);
            STEP(14);
            if (pb->off + pb->size < h->end)
                blk_at(h, pb->off + pb->size)->prev_size = pb->size;
            arena_unlock(h);
            return 0;
        }
    }
    list_push(h, b);
    STEP(15);
    arena_unlock(h);
    return 0;
}

size_t weft_arena_available(weft_arena *a, size_t *largest)
{
    struct arena_hdr *h;
    size_t total = 0, big = 0, n = 0, limit;
    struct blk *b;
    uint64_t off;

    if (largest)
        *largest = 0;
    a = a ? resolve(a) : NULL;
    if (!a)
        return 0;
    h = a->hdr;
    if (arena_lock(h) < 0)
        return 0;
    /* Bounded by the most blocks the arena can hold, so even a list that
     * some stray write made circular cannot hold us here forever. */
    limit = (h->end - h->first) / MIN_BLOCK;
    for (off = h->free_head; off && n < limit; off = links_of(b)->next) {
        b = blk_at(h, off);
        total += b->size - BHDR;
        if (b->size - BHDR > big)
            big = b->size - BHDR;
        n++;
    }
    arena_unlock(h);
    if (largest)
        *largest = big;
    return total;
}

/* ---- Offsets and the root ------------------------------------------------ */

uint64_t weft_arena_offset(const weft_arena *a, const void *p)
{
    uintptr_t base;

    a = a ? resolve(a) : NULL;
    if (!a || !p)
        return 0;
    base = (uintptr_t)a->hdr;
    if ((uintptr_t)p < base || (uintptr_t)p - base >= a->size)
        return 0;
    return (uint64_t)((uintptr_t)p - base);
}

void *weft_arena_ptr(const weft_arena *a, uint64_t offset)
{
    a = a ? resolve(a) : NULL;
    if (!a || offset == 0 || offset >= a->size)
        return NULL;
    return (char *)a->hdr + offset;
}

int weft_arena_set_root(weft_arena *a, const void *p)
{
    uint64_t off = 0;

    a = a ? resolve(a) : NULL;
    if (!a)
        return -EINVAL;
    if (p) {
        off = weft_arena_offset(a, p);
        if (off == 0)
            return -EINVAL;
    }
    /* Release: whoever reads the root sees the object as it was set up. */
    __atomic_store_n(&a->hdr->root, off, __ATOMIC_RELEASE);
    return 0;
}

void *weft_arena_root(const weft_arena *a)
{
    a = a ? resolve(a) : NULL;
    if (!a)
        return NULL;
    return weft_arena_ptr(a, __atomic_load_n(&a->hdr->root, __ATOMIC_ACQUIRE));
}

/* ---- Checking (tests) ------------------------------------------------------
 */

int weft__arena_check(weft_arena *a, struct weft__arena_stats *st)
{
    struct weft__arena_stats s = {0};
    struct arena_hdr *h;
    uint64_t off, prev_size = 0, prev = 0, listed_bytes = 0;
    size_t listed = 0;
    bool prev_free = false, ok;
    struct blk *b;
    int rc;

    a = a ? resolve(a) : NULL;
    if (!a)
        return -EINVAL;
    h = a->hdr;
    rc = arena_lock(h);
    if (rc < 0)
        return rc;
    ok = chain_sane(h) && h->size == a->size;
    for (off = h->first; ok && off < h->end; off += b->size) {
        b = blk_at(h, off);
        s.blocks++;
        if (b->prev_size != prev_size)
            ok = false;
        if (b->state == BLK_FREE) {
            if (prev_free)
                ok = false; /* two free neighbours: a merge was missed */
            s.free_blocks++;
            s.free_bytes += b->size;
        } else {
            s.used_blocks++;
            s.used_bytes += b->size;
        }
        prev_free = b->state == BLK_FREE;
        prev_size = b->size;
    }
    /* The list: only well-formed free blocks, linked both ways, each once
     * (a list no longer than the free blocks, with back links that agree,
     * has no repeats), adding up to what the chain holds free. */
    for (off = h->free_head; ok && off; off = links_of(b)->next) {
        b = blk_at(h, off);
        if (!blk_sane(h, off) || b->state != BLK_FREE ||
            links_of(b)->prev != prev || ++listed > s.free_blocks)
            ok = false;
        else
            listed_bytes += b->size;
        prev = off;
    }
    if (listed != s.free_blocks || listed_bytes != s.free_bytes)
        ok = false;
    s.recovered = h->recovered;
    arena_unlock(h);
    if (!ok)
        return -ENOTRECOVERABLE;
    if (st)
        *st = s;
    return 0;
}
