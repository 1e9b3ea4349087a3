/* stack.c - coroutine stacks: carved from large slabs, one guard page
 * below each, pooled per scheduler and reused.
 *
 * A slab is one anonymous mapping holding STACKS_PER_SLAB stacks of one
 * size, each with a guard page below it (stacks grow down, so an overflow
 * runs into the guard and dies with a clean SIGSEGV). The guard pages are
 * installed with MADV_GUARD_INSTALL (Linux 6.13+), which marks pages in
 * the page tables without splitting the mapping: a slab stays one entry
 * against vm.max_map_count (65,530 by default) however many stacks it
 * holds. On an older kernel each guard is an mprotect(PROT_NONE) page,
 * which splits the mapping (two entries per stack, so about 32,000 stacks
 * in all); when mprotect fails for want of entries, the stack goes
 * unguarded rather than failing the spawn (docs/coroutines.md).
 *
 * Memory is reserved (MAP_NORESERVE), not committed: a page costs RAM only
 * once the coroutine touches it.
 */
#include "co/sched_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define STACKS_PER_SLAB 32

struct weft__slab {
    void *base;
    size_t len;
    struct weft__stack *stacks;
    struct weft__slab *next;
};

enum { GUARD_MADVISE = 0, GUARD_MPROTECT = 1 };
/* What this kernel supports; learnt on the first failure. */
static _Atomic int guard_mode = GUARD_MADVISE;

void weft__stack_force_mprotect(void)
{
    atomic_store(&guard_mode, GUARD_MPROTECT);
}

/* Schedulers on several threads may ask at once: relaxed atomics make the
 * lazy cache race-free (they all store the same value). */
static size_t page_size(void)
{
    static _Atomic size_t cache;
    size_t ps = atomic_load_explicit(&cache, memory_order_relaxed);
    if (ps == 0) {
        ps = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&cache, ps, memory_order_relaxed);
    }
    return ps;
}

static bool install_guard(void *page, size_t len)
{
    if (atomic_load(&guard_mode) == GUARD_MADVISE) {
        if (madvise(page, len, MADV_GUARD_INSTALL) == 0)
            return true;
        if (errno != EINVAL)
            return false;
        atomic_store(&guard_mode, GUARD_MPROTECT);
    }
    return mprotect(page, len, PROT_NONE) == 0;
}

static int slab_new(struct weft__sched *s, size_t size, size_t count)
{
    size_t ps = page_size();
    size_t step = size + ps;
    struct weft__slab *sl = calloc(1, sizeof *sl);
    if (sl == NULL)
        return -ENOMEM;
    sl->stacks = calloc(count, sizeof *sl->stacks);
    sl->len = step * count;
    sl->base =
        mmap(NULL, sl->len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (sl->stacks == NULL || sl->base == MAP_FAILED) {
        if (sl->base != MAP_FAILED && sl->base != NULL)
            munmap(sl->base, sl->len);
        free(sl->stacks);
        free(sl);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        char *guard = (char *)sl->base + i * step;
        struct weft__stack *st = &sl->stacks[i];
        st->guarded = install_guard(guard, ps);
        st->lo = guard + ps;
        st->size = size;
        st->next = s->free_stacks;
        s->free_stacks = st;
    }
    sl->next = s->slabs;
    s->slabs = sl;
    return 0;
}

int weft__stack_get(struct weft__sched *s, size_t size,
                    struct weft__stack **out)
{
    size_t ps = page_size();
    size = (size + ps - 1) & ~(ps - 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        for (struct weft__stack **p = &s->free_stacks; *p != NULL;
             p = &(*p)->next) {
            if ((*p)->size != size)
                continue;
            struct weft__stack *st = *p;
            *p = st->next;
            st->next = NULL;
#if WEFT__CO_ASAN
            /* A finished coroutine never unwound its frames. */
            __asan_unpoison_memory_region(st->lo, st->size);
#endif
            *out = st;
            return 0;
        }
        if (attempt == 0) {
            /* Default-size stacks come many to a slab; odd sizes alone. */
            size_t count = size == s->stack_size ? STACKS_PER_SLAB : 1;
            int rc = slab_new(s, size, count);
            if (rc < 0)
                return rc;
        }
    }
    return -ENOMEM;
}

void weft__stack_put(struct weft__sched *s, struct weft__stack *st)
{
    if (st == NULL)
        return;
    st->next = s->free_stacks;
    s->free_stacks = st;
}

void weft__stacks_free(struct weft__sched *s)
{
    while (s->slabs != NULL) {
        struct weft__slab *sl = s->slabs;
        s->slabs = sl->next;
        munmap(sl->base, sl->len);
        free(sl->stacks);
        free(sl);
    }
    s->free_stacks = NULL;
}
