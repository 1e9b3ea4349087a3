/* weft/signal.h - signals handled in ordinary code, never in a signal
 * handler (Python's signal module, minus its handler restrictions).
 *
 * Model
 *   A subscription (weft_signals) names a set of signals. While it is open,
 *   each delivery of one of them is queued to it as a weft_signal_info, and
 *   its descriptor becomes readable. Read them from any thread or event loop
 *   you choose: poll the descriptor and call weft_signals_read(), or call
 *   weft_signals_dispatch() to run a callback for each, or let
 *   weft_signals_start_thread() run the callback on a weft helper thread.
 *   Nothing of yours runs in async-signal context, so the callback may
 *   lock, allocate, print and log freely.
 *
 *   Subscribable: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM,
 *   SIGUSR1, SIGUSR2, SIGPIPE, SIGWINCH, SIGCONT, SIGTSTP, the real-time
 *   signals SIGRTMIN..SIGRTMAX... any signal except SIGKILL and SIGSTOP
 *   (which cannot be caught) and the synchronous faults (SIGSEGV, SIGBUS,
 *   SIGILL, SIGFPE, SIGTRAP, SIGSYS), which cannot wait for ordinary code.
 *   Several subscriptions (up to 32) may share a signal: each gets every
 *   delivery. The first one on a signal replaces its disposition (a
 *   handler of yours, SIG_IGN or SIG_DFL); when the last one closes, that
 *   previous disposition is restored.
 *
 *   How: weft installs a tiny handler that writes the record to each
 *   subscriber's non-blocking pipe (write() is async-signal-safe and atomic
 *   for such small records). It works whatever the threads' signal masks
 *   are - unlike signalfd, which needs the signal blocked in every thread.
 *   If a subscriber does not read and its pipe fills (thousands of pending
 *   signals), further deliveries to it are dropped, as the kernel coalesces
 *   pending standard signals too. The handler is installed with
 *   SA_RESTART, so most interrupted system calls resume by themselves;
 *   poll(), sleeps and a few others still return EINTR, as they always do.
 *
 *   SIGCHLD auto-reap mode: weft_signal_ignore_children(true) sets SIGCHLD
 *   to SIG_IGN, which tells the kernel to reap every child at once (no
 *   zombies, no waiting). The exit statuses are then lost: weft processes
 *   and commands report WEFT_ENOSTATUS. weft's own children never need it.
 *   The mode and a SIGCHLD subscription combine: while subscribed, the
 *   kernel still reaps (SA_NOCLDWAIT) and each child's exit is still
 *   queued, with its status.
 *
 * Threads and fork
 *   All calls are thread-safe; one subscription may be read from several
 *   threads at once (each delivery goes to one reader). Subscriptions
 *   belong to the process that opened them: a forked child (weft process
 *   or plain fork()) gets the previous dispositions of every subscribed
 *   signal back, so weft_process_terminate() ends it even while its parent
 *   listens for SIGTERM. The child's copies of the subscriptions stay
 *   silent; it should close them (weft_signals_close() is safe there).
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_signals weft_signals;

/* What was delivered. */
typedef struct weft_signal_info {
    int signo;  /* the signal number */
    int code;   /* si_code: SI_USER (kill), SI_KERNEL, CLD_EXITED... */
    pid_t pid;  /* sender's pid (SI_USER, SI_QUEUE, SI_TKILL) or the
                 * child's pid (SIGCHLD); else 0 */
    uid_t uid;  /* sender's (or child's) real uid; else 0 */
    int status; /* SIGCHLD: exit status or signal; else 0 */
} weft_signal_info;

typedef void (*weft_signal_cb)(const weft_signal_info *info, void *userdata);

/* Subscribe to n signals (repeats count once). Errors: -EINVAL (n 0,
 * NULL, or a signal that cannot be subscribed), -EMFILE (out of
 * descriptors, or a signal that has 32 subscriptions already), -ENOMEM.
 * On error nothing changed. */
WEFT_API int weft_signals_open(weft_signals **out, const int *signos, size_t n);
/* The descriptor that is readable while deliveries are queued. Owned by
 * the subscription; poll it, do not read it yourself. */
WEFT_API int weft_signals_fd(const weft_signals *s);
/* Take the next delivery: 0 and *info set; -EAGAIN (timeout 0) or
 * -ETIMEDOUT when none came; -EINVAL for NULL. */
WEFT_API int weft_signals_read(weft_signals *s, weft_signal_info *info,
                               int timeout_ms);
/* Wait up to timeout_ms for a delivery, then run cb for it and for every
 * one queued behind it at that moment, in the calling thread. Returns how
 * many ran (0 on timeout), or -EINVAL for NULL. cb must not close s. */
WEFT_API int weft_signals_dispatch(weft_signals *s, weft_signal_cb cb,
                                   void *userdata, int timeout_ms);
/* Run cb for each delivery on a helper thread owned by the subscription,
 * until weft_signals_close(). The thread blocks all signals. cb may call
 * weft_signals_close(s); the thread then ends when cb returns. Errors:
 * WEFT_ESTARTED if one runs already, -EINVAL, -EMFILE, -EAGAIN. */
WEFT_API int weft_signals_start_thread(weft_signals *s, weft_signal_cb cb,
                                       void *userdata);
/* Unsubscribe (stopping and joining its thread, if any, after the
 * callback in progress returns) and release. NULL: no-op. */
WEFT_API void weft_signals_close(weft_signals *s);

/* Send signo to pid (kill(2)); signo 0 checks that pid exists.
 * Errors: -EINVAL (bad signal or pid <= 0), -ESRCH, -EPERM. */
WEFT_API int weft_signal_send(pid_t pid, int signo);
/* Deliver SIGALRM to this process after ms milliseconds (0 cancels), like
 * Python's signal.setitimer(ITIMER_REAL). Returns the milliseconds left of
 * the previous alarm (0 if none), or -EINVAL for ms < 0. */
WEFT_API int weft_signal_alarm(int ms);
/* Turn SIGCHLD auto-reap mode on or off (see above). 0 or -errno. */
WEFT_API int weft_signal_ignore_children(bool on);
/* The signal's name without "SIG" ("INT"), or NULL for an invalid one. */
WEFT_API const char *weft_signal_name(int signo);

#ifdef __cplusplus
}
#endif
#endif
