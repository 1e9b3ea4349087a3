/* shm_int.h - what the shm module shares between its files and with its
 * tests: anonymous regions with extra mmap flags (the default arena), and
 * the arena's checker and crash hook, which the tests use to prove that a
 * process killed at any instant inside the allocator leaves a usable arena.
 * Private to libweft. */
#ifndef WEFT_SHM_INT_H
#define WEFT_SHM_INT_H

#include <stddef.h>

#include <weft/shm.h>

/* weft_region_create with extra mmap flags (MAP_NORESERVE). */
int weft__region_create_anon(weft_region **out, size_t size, int mmap_flags);

/* What weft__arena_check found. Sizes are block sizes, headers included. */
struct weft__arena_stats {
    size_t blocks;      /* blocks in the chain */
    size_t used_blocks; /* of which in use */
    size_t used_bytes;  /* bytes of the blocks in use */
    size_t free_blocks; /* free blocks (all on the free list) */
    size_t free_bytes;  /* bytes of the free blocks */
    size_t recovered;   /* times the arena was repaired after a death */
};

/* Walk the whole arena under its lock and check every invariant: the
 * chain of blocks (magic, offsets, sizes, states) covers the arena
 * exactly, boundary tags match, no two free blocks are neighbours, and the
 * free list holds every free block once and nothing else. 0 (st filled
 * when not NULL), -ENOTRECOVERABLE if anything is wrong, -EINVAL. */
int weft__arena_check(weft_arena *a, struct weft__arena_stats *st);

/* Test hook: when set, called at every numbered step inside the
 * allocator's critical sections (1..WEFT__ARENA_CRASH_POINTS), so a test
 * can kill the process at exactly that instant. NULL in normal use. */
extern void (*weft__arena_crash_hook)(int point);
#define WEFT__ARENA_CRASH_POINTS 16

#endif
