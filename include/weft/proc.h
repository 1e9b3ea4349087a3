/* weft/proc.h - processes: Python's multiprocessing.Process for C.
 *
 * Model
 *   A weft_process runs a function in a child process. Create it with the
 *   function, its argument and options (name, daemon flag, start method),
 *   start it, then join it (with a timeout) and read its exit code, which
 *   has Python's meaning: N >= 0 the child exited with status N (the value
 *   the function returned, or what it passed to exit()), -S it was killed by
 *   signal S. Before the child has exited there is no exit code.
 *
 *   No zombies, ever. weft waits for each child it starts through a pidfd
 *   (Linux 5.3+), so it never reaps, nor steals the exit status of, a child
 *   it did not start. A helper thread (the "reaper", started with the first
 *   child) reaps each weft child as soon as it exits, whether or not anybody
 *   joins it; join and exitcode then read the status the reaper kept.
 *
 *   Daemon children end when their parent ends: at a normal exit they are
 *   terminated (SIGTERM, then joined), and when the parent dies any other way
 *   - even SIGKILL - the kernel kills them (PR_SET_PDEATHSIG, with a check
 *   for a parent that died before the child could arm it). At a normal exit
 *   (return from main or exit()) non-daemon children are joined first, as
 *   Python does. Caveat: Linux ties PR_SET_PDEATHSIG to the *thread* that
 *   forked, so a daemon child started from a thread that later exits is
 *   killed then; start daemon children from the main thread, or use the fork
 *   server (whose parent is a single-threaded helper).
 *
 * Start methods
 *   WEFT_START_FORK (default): fork() the calling process. The child is a
 *     copy of the parent - but of the calling thread only. Forking a program
 *     that already runs other threads is the classic trap: a lock (malloc's,
 *     stdio's, your own) held by another thread at the instant of fork stays
 *     locked forever in the child. Fork before starting threads, or use:
 *   WEFT_START_FORKSERVER: call weft_forkserver_start() early, while the
 *     program is still single-threaded. It forks a small helper that later
 *     forks children on request, so they are copies of that clean,
 *     single-threaded early program, not of the threaded one. The function
 *     pointer is valid there (same program image); the argument must travel
 *     as bytes (opts.arg_bytes), because the caller's memory is not there.
 *     Globals have the values they had when the fork server started.
 *
 * Threads and fork
 *   A weft_process handle may be used from any thread, one call at a time
 *   per handle, except weft_process_join, is_alive, exitcode, terminate and
 *   kill, which any number of threads may call at once. A forked child (of
 *   any kind) starts with no weft children of its own: handles inherited
 *   from the parent are inert in it and must not be used.
 */
#ifndef WEFT_PROC_H
#define WEFT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_process weft_process;

/* The code a child runs. Its return value (0..255) is the exit status. */
typedef int (*weft_process_fn)(void *arg);

enum weft_start_method {
    WEFT_START_DEFAULT = 0,   /* whatever weft_set_start_method() chose */
    WEFT_START_FORK = 1,      /* fork() the caller (the initial default) */
    WEFT_START_FORKSERVER = 2 /* ask the fork server for a child */
};

typedef struct weft_process_opts {
    const char *name;      /* copied; NULL gives "Process-N" */
    bool daemon;           /* terminated when the parent ends */
    int start_method;      /* enum weft_start_method */
    const void *arg_bytes; /* if not NULL, arg_len bytes are copied and the */
    size_t arg_len;        /* child gets a pointer to its copy as arg */
} weft_process_opts;

/* Create a process that will run fn(arg). opts may be NULL (defaults). With
 * arg_bytes set, arg must be NULL. Nothing runs until weft_process_start().
 * Errors: -EINVAL (fn NULL, both arg and arg_bytes, a raw arg with the fork
 * server, an unknown start method), -ENOMEM. */
WEFT_API int weft_process_create(weft_process **out, weft_process_fn fn,
                                 void *arg, const weft_process_opts *opts);

/* Start the child. Returns once it exists (its pid is known).
 * Errors: WEFT_ESTARTED (started before), WEFT_ENOFORKSERVER (fork server
 * method without a running fork server), -EAGAIN/-ENOMEM (fork failed: too
 * many processes, no memory), -EMFILE (no descriptor for the pidfd),
 * -ENOSYS (kernel without pidfds). */
WEFT_API int weft_process_start(weft_process *p);

/* Run the function in the calling process, like Python's run(), and return
 * its return value. Does not change the handle's state. -EINVAL for NULL. */
WEFT_API int weft_process_run(weft_process *p);

/* Wait for the child to exit (timeout convention in core.h). 0 once it has
 * exited (then weft_process_exitcode tells how), -ETIMEDOUT (or -EAGAIN for
 * timeout 0) while it runs, WEFT_ENOTSTARTED if never started. */
WEFT_API int weft_process_join(weft_process *p, int timeout_ms);

/* 1 if started and not yet exited, else 0. Never blocks. */
WEFT_API int weft_process_is_alive(weft_process *p);

/* Send SIGTERM / SIGKILL to the child (through its pidfd: never to a
 * recycled pid). A child that already exited is left alone: 0. Errors:
 * WEFT_ENOTSTARTED, -EINVAL (NULL). weft_process_signal sends any signal;
 * -EINVAL for an invalid signal number. */
WEFT_API int weft_process_terminate(weft_process *p);
WEFT_API int weft_process_kill(weft_process *p);
WEFT_API int weft_process_signal(weft_process *p, int signo);

/* The exit code, with Python's meaning: *code = N >= 0 (exit status) or -S
 * (killed by signal S). Returns 0 when set; WEFT_ERUNNING while the child
 * runs; WEFT_ENOTSTARTED; WEFT_ENOSTATUS when the status was lost because
 * SIGCHLD is ignored (the kernel reaped the child); -EINVAL for NULL. */
WEFT_API int weft_process_exitcode(weft_process *p, int *code);

/* The child's pid (0 before start). */
WEFT_API pid_t weft_process_pid(const weft_process *p);
/* Python's Process.sentinel: a descriptor that becomes readable (poll,
 * epoll) when the child ends - a pidfd. Owned by the handle: valid until
 * weft_process_destroy, never to be closed or read by the caller. Errors:
 * WEFT_ENOTSTARTED; -ESRCH when the child had already ended before it
 * could be opened (SIGCHLD ignored): join returns at once then. */
WEFT_API int weft_process_sentinel(const weft_process *p);
/* The name given at creation or "Process-N". Owned by the handle. */
WEFT_API const char *weft_process_name(const weft_process *p);
/* The daemon flag. */
WEFT_API bool weft_process_daemon(const weft_process *p);

/* Release the handle. NULL is a no-op (0). A child that is still running is
 * not touched and the handle stays valid: -EBUSY (join, terminate or kill
 * first). A child that exited is reaped if it was not already. */
WEFT_API int weft_process_destroy(weft_process *p);

/* ---- Start methods and the fork server ---------------------------------- */

/* Choose the method that WEFT_START_DEFAULT means from now on.
 * -EINVAL for anything but WEFT_START_FORK or WEFT_START_FORKSERVER. */
WEFT_API int weft_set_start_method(int method);
WEFT_API int weft_get_start_method(void);

/* Start the fork server. Call it early, before the program starts threads
 * (it checks: -EDEADLK if the calling process already runs other threads
 * than weft's own reaper). Idempotent: 0 if already running. */
WEFT_API int weft_forkserver_start(void);
/* Stop the fork server. Children it started keep running and are still
 * joined through their handles' pidfds, but their exit status is lost
 * (WEFT_ENOSTATUS) if they end after the server. 0 if none was running. */
WEFT_API int weft_forkserver_stop(void);
/* The fork server's pid, or 0 if none runs. */
WEFT_API pid_t weft_forkserver_pid(void);

/* ---- The current process ------------------------------------------------ */

/* The calling process's pid and its parent's. */
WEFT_API pid_t weft_current_pid(void);
WEFT_API pid_t weft_parent_pid(void);
/* "MainProcess" in the program, the process's name in a weft child. */
WEFT_API const char *weft_current_name(void);
/* Number of CPUs this process may run on (its affinity mask), >= 1. */
WEFT_API int weft_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
