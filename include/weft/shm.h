/* weft/shm.h - shared memory: regions, and the arena that places weft
 * objects (locks, events, values, dicts, queues) where several processes
 * can use them.
 *
 * Model
 *   A region is a block of memory mapped MAP_SHARED:
 *     - anonymous (weft_region_create): inherited by every child forked
 *       after it was made, at the same address; gone when the last process
 *       that maps it unmaps it or exits;
 *     - named (weft_region_create_named / weft_region_open): a POSIX
 *       shared-memory object under /dev/shm, for unrelated processes. The
 *       name outlives every process until weft_region_unlink() removes it
 *       (the memory itself goes when the name is gone and the last mapping
 *       is closed). Names are "weft-demo" or "/weft-demo": one component,
 *       1..200 bytes, no further '/'.
 *
 *   An arena is a region with an allocator inside: weft_arena_alloc() hands
 *   out blocks of it (64-byte aligned, so two objects never share a cache
 *   line), weft_arena_free() takes them back, from any process that maps
 *   it. The allocator's state lives in the region and is guarded by a
 *   robust process-shared lock: a process killed inside alloc or free
 *   never blocks the others.
 *
 *   Placing objects: every weft object that can be shared takes a
 *   `weft_arena *where` at creation:
 *     NULL          private to this process (its threads share it);
 *     WEFT_SHARED   the process's default shared arena, created on first
 *                   use (anonymous, 64 MiB of address space, memory taken
 *                   only as it is used): shared with children forked after
 *                   the object was created - Python's multiprocessing.Lock()
 *                   behaves the same way;
 *     an arena      that arena: for named arenas, unrelated processes.
 *   Shared objects are position-independent (they hold offsets, never
 *   pointers), so a named arena may be mapped at different addresses in
 *   different processes. Hand an object to another process through the
 *   arena's root (weft_arena_set_root / weft_arena_root) or as an offset
 *   (weft_arena_offset / weft_arena_ptr).
 *
 * Threads and fork
 *   All calls are thread-safe and may be made from several processes at
 *   once on the same arena. Handles (weft_region, weft_arena) are private
 *   memory: a forked child inherits a usable copy; an unrelated process
 *   opens its own by name. Close each handle in each process.
 */
#ifndef WEFT_SHM_H
#define WEFT_SHM_H

#include <stddef.h>
#include <stdint.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Regions ------------------------------------------------------------ */

typedef struct weft_region weft_region;

/* An anonymous shared region of size bytes (rounded up to whole pages),
 * zero-filled. Errors: -EINVAL (size 0), -ENOMEM. */
WEFT_API int weft_region_create(weft_region **out, size_t size);
/* A new named region of size bytes (rounded up to whole pages),
 * zero-filled; fails with -EEXIST if the name exists. mode is the
 * permission bits (0600 is usual; the umask applies). The memory is
 * reserved now, so a full /dev/shm fails here rather than as a SIGBUS
 * later. A create that fails removes the name again. Errors: -EINVAL (bad
 * name, size 0, mode beyond 07777), -EEXIST, -EACCES, -ENOSPC/-ENOMEM (no
 * room in /dev/shm). */
WEFT_API int weft_region_create_named(weft_region **out, const char *name,
                                      size_t size, unsigned mode);
/* Map an existing named region, at its full size. Errors: -EINVAL (bad
 * name), -ENOENT, -EACCES, -EAGAIN (the object has size 0: its creator
 * has not sized it yet). */
WEFT_API int weft_region_open(weft_region **out, const char *name);
WEFT_API void *weft_region_addr(const weft_region *r);
WEFT_API size_t weft_region_size(const weft_region *r);
/* Unmap and release the handle. NULL is a no-op. Objects inside become
 * unreachable from this process (the other mappings keep them). 0 or
 * -errno. */
WEFT_API int weft_region_close(weft_region *r);
/* Remove a name (the memory lives on while mapped). -ENOENT if absent,
 * -EINVAL for a bad name. */
WEFT_API int weft_region_unlink(const char *name);

/* ---- Arenas ------------------------------------------------------------- */

typedef struct weft_arena weft_arena;

/* The default shared arena, as a placement argument (see above). Every
 * arena call below also accepts it in place of an arena. */
#define WEFT_SHARED ((weft_arena *)1)

/* An anonymous arena of size bytes (at least 4 KiB; rounded up to whole
 * pages). Errors as weft_region_create, and -EINVAL below 4 KiB. */
WEFT_API int weft_arena_create(weft_arena **out, size_t size);
/* A named arena (errors as weft_region_create_named) and opening one
 * (errors as weft_region_open; -EPROTO if the region is not a weft arena
 * or of another version; -EAGAIN while its creator is still formatting it
 * - an all-zero region reads the same). */
WEFT_API int weft_arena_create_named(weft_arena **out, const char *name,
                                     size_t size, unsigned mode);
WEFT_API int weft_arena_open(weft_arena **out, const char *name);
/* The default shared arena of this process (WEFT_SHARED), created on first
 * use; NULL only if it cannot be created (no memory). Never close it. */
WEFT_API weft_arena *weft_arena_default(void);
/* Unmap and release the handle (not the default arena: -EINVAL). NULL is a
 * no-op. */
WEFT_API int weft_arena_close(weft_arena *a);

/* Allocate size bytes, 64-byte aligned, zero-filled. 0 and *out set, or
 * -EINVAL (size 0), -ENOMEM (the arena is full). Thread- and
 * process-safe; waits only for another caller's alloc or free. A process
 * that dies inside alloc or free is repaired after by the next caller;
 * blocks a dead process held are not given back. If that repair finds the
 * arena corrupt (a stray write, not a death), this and every later call
 * fail with -ENOTRECOVERABLE. */
WEFT_API int weft_arena_alloc(weft_arena *a, size_t size, void **out);
/* Give back a block from weft_arena_alloc, from any process that maps the
 * arena (it needs no handle: the block's header leads to its arena). NULL
 * is a no-op. -EINVAL for a pointer that is not the start of a live block
 * of an arena, such as a double free (checked as far as the block header
 * allows: like free(), it reads the 32 bytes before p, so p must point
 * into mapped memory). -ENOTRECOVERABLE as weft_arena_alloc. */
WEFT_API int weft_arena_free(void *p);
/* Bytes free in the arena in total, and the largest block that one
 * allocation could get now (largest may be NULL). 0 for NULL or a corrupt
 * arena. */
WEFT_API size_t weft_arena_available(weft_arena *a, size_t *largest);

/* Offsets: a pointer into the arena as an offset from its start (valid in
 * every process), and back. weft_arena_ptr gives NULL for an offset
 * outside the arena; weft_arena_offset gives 0 for a pointer outside (no
 * block starts at offset 0). */
WEFT_API uint64_t weft_arena_offset(const weft_arena *a, const void *p);
WEFT_API void *weft_arena_ptr(const weft_arena *a, uint64_t offset);
/* One well-known slot per arena: store an object (or NULL) so that other
 * processes opening the arena by name can find it. */
WEFT_API int weft_arena_set_root(weft_arena *a, const void *p);
WEFT_API void *weft_arena_root(const weft_arena *a);

#ifdef __cplusplus
}
#endif
#endif
