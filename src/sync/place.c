/* place.c - where an object lives: private heap memory, or an arena. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_int.h"

int weft__place(weft_arena *where, size_t size, void **out, bool *shared)
{
    void *p;

    *out = NULL;
    if (size == 0)
        return -EINVAL;
    if (!where) {
        /* 64-byte aligned like arena blocks: objects never share a cache
         * line with their neighbours. */
        size = (size + 63) & ~(size_t)63;
        p = aligned_alloc(64, size);
        if (!p)
            return -ENOMEM;
        memset(p, 0, size);
        *shared = false;
        *out = p;
        return 0;
    }
    if (where == WEFT_SHARED) {
        where = weft_arena_default();
        if (!where)
            return -ENOMEM;
    }
    *shared = true;
    return weft_arena_alloc(where, size, out);
}

void weft__unplace(void *p, bool shared)
{
    if (!p)
        return;
    if (shared)
        weft_arena_free(p);
    else
        free(p);
}
