/* dict_int.h - what the tests may reach inside weft_dict: a hook at the
 * one instant a crash is hardest to survive. Private to libweft. */
#ifndef WEFT_DICT_INT_H
#define WEFT_DICT_INT_H

#include <stddef.h>

/* Called, when not NULL, with the dict's redo journal armed and just
 * before the journalled change is applied: dst and len are the bytes of
 * the value about to be overwritten, or NULL and 0 for a clear. A test
 * sets it in a child that then scribbles on dst and kills itself, to
 * check that the next caller finishes the change. NULL in normal use;
 * never set it in a program with other threads using dicts. */
extern void (*weft__dict_commit_hook)(void *dst, size_t len);

#endif
