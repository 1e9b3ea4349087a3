/* weft/signal.h - signals handled in ordinary code, never in a signal
 * handler.
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
 *   SIGUSR1, SIGUSR2, SIGPIPE, SIGWINCH, SIGCONT, SIGTSTP... any signal but
 *   SIGKILL and SIGSTOP, and but the synchronous faults (SIGSEGV, SIGBUS,
 *   SIGILL, SIGFPE, SIGTRAP, SIGSYS), which cannot be handled in ordinary
 *   code. Several subscriptions may share a signal: each gets every
 *   delivery. When the last one on a signal closes, the signal's previous
 *   disposition is restored.
 *
 *   How: weft installs a tiny handler that writes the record to each
 *   subscriber's non-blocking pipe (write() is async-signal-safe and atomic
 *   for such small records). It works whatever the threads' signal masks
 *   are - unlike signalfd, which needs the signal blocked in every thread.
 *   If a subscriber does not read and its pipe fills (thousands of pending
 *   signals), further deliveries to it are dropped, as the kernel coalesces
 *   pending standard signals too.
 *
 *   SIGCHLD auto-reap mode: weft_signal_ignore_children(true) sets SIGCHLD
 *   to SIG_IGN, which tells the kernel to reap every child at once (no
 *   zombies, no waiting). The exit statuses are then lost: weft processes
 *   and commands report WEFT_ENOSTATUS. weft's own children never need it.
 *
 * Threads and fork
 *   All calls are thread-safe. A forked child inherits the handler and the
 *   pipes; subscriptions are not meant to be used in it (close them).
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
    pid_t pid;  /* sender's pid (SI_USER/SI_QUEUE) or child pid (SIGCHLD) */
    uid_t uid;  /* sender's real uid */
    int status; /* SIGCHLD: exit status or signal; else 0 */
} weft_signal_info;

typedef void (*weft_signal_cb)(const weft_signal_info *info, void *userdata);

/* Subscribe to n signals. Errors: -EINVAL (n 0, NULL, or a signal that
 * cannot be subscribed), -EMFILE, -ENOMEM. */
WEFT_API int weft_signals_open(weft_signals **out, const int *signos,
                               size_t n);
/* The descriptor that is readable while deliveries are queued. Owned by
 * the subscription; poll it, do not read it yourself. */
WEFT_API int weft_signals_fd(const weft_signals *s);
/* Take the next delivery: 0 and *info set; -EAGAIN (timeout 0) or
 * -ETIMEDOUT when none came. */
WEFT_API int weft_signals_read(weft_signals *s, weft_signal_info *info,
                               int timeout_ms);
/* Wait up to timeout_ms for a delivery, then run cb for every queued one,
 * in the calling thread. Returns how many ran (0 on timeout). */
WEFT_API int weft_signals_dispatch(weft_signals *s, weft_signal_cb cb,
                                   void *userdata, int timeout_ms);
/* Run cb for each delivery on a helper thread owned by the subscription,
 * until weft_signals_close(). WEFT_ESTARTED if one runs already. */
WEFT_API int weft_signals_start_thread(weft_signals *s, weft_signal_cb cb,
                                       void *userdata);
/* Unsubscribe (stopping its thread, if any) and release. NULL: no-op. */
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
