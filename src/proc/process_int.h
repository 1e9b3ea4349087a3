/* process_int.h - the weft_process structure, shared by process.c and the
 * fork server (forkserver.c). */
#ifndef WEFT_PROCESS_INT_H
#define WEFT_PROCESS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "proc/child_int.h"

#include <weft/proc.h>

struct weft_process {
    weft_process_fn fn;
    void *arg;  /* the raw argument (fork method only) */
    char *name; /* owned */
    bool daemon;
    bool started;
    int method;               /* as created: may be WEFT_START_DEFAULT */
    struct weft__child child; /* valid once started */
    bool has_bytes;           /* arg is a copy of arg_bytes */
    size_t arg_len;
    unsigned char arg_bytes[]; /* copy of opts.arg_bytes */
};

/* The argument the child's function gets. */
void *weft__process_arg(weft_process *p);
/* Run fn in a freshly forked child and _exit with its result. */
void weft__process_child_main(weft_process_fn fn, void *arg, const char *name,
                              bool daemon, pid_t parent)
    __attribute__((noreturn));
/* Start p through the fork server; fills p->child. 0 or an error. */
int weft__forkserver_spawn(weft_process *p);
/* Terminate daemon children and join the others (what exit does). */
void weft__child_exit_all(void);

#endif
