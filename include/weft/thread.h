/* weft/thread.h - threads: Python's threading.Thread for C.
 *
 * Model
 *   A weft_thread runs a function in a new thread of the calling process.
 *   Create it with the function, its argument and options (name, daemon
 *   flag, stack size), start it, join it with a timeout, read what the
 *   function returned. Threads share the process's memory: globals, heap,
 *   descriptors (see examples/threads_basics.c).
 *
 *   Daemon threads matter only at program end. Plain C does not wait for
 *   any thread: returning from main() or calling exit() ends the process
 *   and every thread in it at once, mid-work. weft_exit() is Python's
 *   behaviour instead: it waits for every non-daemon weft thread, then
 *   calls exit() (which, through weft's atexit handler, also joins
 *   non-daemon child processes and terminates daemon ones).
 *
 *   weft_thread_current_name(), weft_thread_count(), weft_thread_list()
 *   are Python's current_thread().name, active_count() and enumerate():
 *   weft keeps a list of its live threads (started, function not yet
 *   returned). Threads weft did not start are not in it.
 *
 * Threads and fork
 *   Handles may be used from any thread, one call at a time per handle,
 *   except join and is_alive, which any number of threads may call at once.
 *   A forked child has only the thread that forked: its live-thread list
 *   starts empty, and handles of threads started before the fork are inert
 *   in it (join and result give -ECHILD, is_alive 0, start
 *   WEFT_ESTARTED; destroy only frees the memory). Handles never started
 *   may be started in the child.
 *
 *   Every function taking a handle returns -EINVAL for NULL (is_alive 0,
 *   name NULL, daemon false, native_id 0; destroy treats NULL as a no-op).
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_thread weft_thread;

/* The code a thread runs; its return value is kept for
 * weft_thread_result(). */
typedef int (*weft_thread_fn)(void *arg);

typedef struct weft_thread_opts {
    const char *name;  /* copied; NULL gives "Thread-N" */
    bool daemon;       /* weft_exit() does not wait for it */
    size_t stack_size; /* 0: the system default */
} weft_thread_opts;

/* Create a thread that will run fn(arg); opts may be NULL (a non-daemon
 * "Thread-N" with the default stack). Nothing runs until
 * weft_thread_start(). Default names are unique in the process. A stack
 * size is rounded up to whole pages. Errors: -EINVAL (out or fn NULL,
 * stack size below PTHREAD_STACK_MIN), -ENOMEM. */
WEFT_API int weft_thread_create(weft_thread **out, weft_thread_fn fn, void *arg,
                                const weft_thread_opts *opts);
/* Start it, and wait until the new thread runs: on return it is alive,
 * counted, listed and has its native id. WEFT_ESTARTED if started before;
 * -EAGAIN (no resources: threads, memory, or a stack size too large). */
WEFT_API int weft_thread_start(weft_thread *t);
/* Wait for the function to return (timeout convention, on the monotonic
 * clock). 0, -ETIMEDOUT (-EAGAIN for 0), WEFT_ENOTSTARTED, -EDEADLK when a
 * thread joins itself. Joining a joined thread returns 0 at once. A
 * function that ends its thread with pthread_exit() (or is cancelled)
 * counts as returned, with the result -ECANCELED. */
WEFT_API int weft_thread_join(weft_thread *t, int timeout_ms);
/* 1 if started and its function has not returned, else 0. */
WEFT_API int weft_thread_is_alive(weft_thread *t);
/* What the function returned: 0 and *ret set once it returned,
 * WEFT_ERUNNING before, WEFT_ENOTSTARTED. */
WEFT_API int weft_thread_result(weft_thread *t, int *ret);
WEFT_API const char *weft_thread_name(const weft_thread *t);
WEFT_API bool weft_thread_daemon(const weft_thread *t);
/* The kernel thread id (Python's native_id), 0 before start. */
WEFT_API pid_t weft_thread_native_id(const weft_thread *t);
/* Release the handle. NULL is a no-op. A running thread gives -EBUSY and
 * the handle stays valid; a finished one that nobody joined is joined
 * first (so nothing leaks). */
WEFT_API int weft_thread_destroy(weft_thread *t);

/* The calling thread's name: its weft name, "MainThread" for the main
 * thread, "Dummy" for other threads weft did not start. Valid while the
 * thread runs. A fork child's only thread keeps the name it had. */
WEFT_API const char *weft_thread_current_name(void);
/* The calling thread's handle, NULL if it was not started by weft. */
WEFT_API weft_thread *weft_thread_current(void);
/* Python's active_count(): live weft threads, plus one for the main
 * thread. */
WEFT_API int weft_thread_count(void);
/* Fill out[0..cap) with handles of live weft threads; returns how many are
 * live (may exceed cap: then only cap were written). The handles stay
 * owned by their creators, and a handle may be destroyed by its owner once
 * its thread ends. -EINVAL if out is NULL and cap is not 0. */
WEFT_API int weft_thread_list(weft_thread **out, size_t cap);

/* Python's end of the main thread: wait for every live non-daemon weft
 * thread, then exit(status). Never returns. Callable from any thread; a
 * weft thread calling it is not waited for (by itself or by another thread
 * in weft_exit()). If several threads call it, the process exits once, with
 * the status of the first to finish waiting. */
WEFT_API void weft_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif
#endif
