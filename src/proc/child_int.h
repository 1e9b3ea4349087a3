/* child_int.h - the registry of weft's child processes and the reaper.
 *
 * Every child weft starts (weft_process, weft_command) is registered here
 * with the pidfd that names it. A helper thread, the reaper, sleeps in
 * epoll_wait on all of those pidfds and reaps each child the moment it
 * exits (waitid(P_PIDFD): only that child, never anybody else's), keeping
 * its exit code. Joiners poll the pidfd themselves and may reap first;
 * whoever takes the registry lock first reaps, the other finds it done.
 *
 * Children started by the fork server are not ours to reap: the fork server
 * reaps them and reports their exit codes, which the reaper reads from the
 * server's status socket (see forkserver.c) and records here.
 *
 * Lock order: the registry lock is a leaf; nothing else is taken under it.
 * Fork: an atfork handler holds the lock across fork(); in the child the
 * registry is emptied, inherited pidfds are closed and the reaper is
 * marked not running, so handles inherited from the parent turn inert
 * (their calls return -ECHILD).
 */
#ifndef WEFT_CHILD_INT_H
#define WEFT_CHILD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    WEFT__CHILD_DAEMON = 1,        /* SIGTERM at exit, then joined */
    WEFT__CHILD_JOIN_AT_EXIT = 2,  /* joined by the atexit handler */
    WEFT__CHILD_VIA_FORKSERVER = 4 /* status comes from the fork server */
};

enum { WEFT__CHILD_RUNNING = 0, WEFT__CHILD_EXITED, WEFT__CHILD_LOST };

/* Embedded in the handle that owns the child; fields are private to
 * child.c except where noted. */
struct weft__child {
    pid_t pid;      /* read-only for owners once added */
    int pidfd;      /* read-only for owners; -1 once removed */
    unsigned flags; /* WEFT__CHILD_* */
    int state;      /* WEFT__CHILD_*, under the registry lock */
    int exitcode;   /* valid in state EXITED: N or -signal */
    uint64_t id;    /* unique, names the child in epoll events */
    pid_t owner;    /* process that registered it (fork detection) */
    bool listed;    /* in the registry list */
    bool watched;   /* in the reaper's epoll set */
    struct weft__child *prev, *next;
};

/* Register a started child. Takes ownership of pidfd (closed by
 * weft__child_remove). pidfd -1 registers a child that was already reaped
 * by the kernel before its pidfd could be opened (SIGCHLD ignored): it is
 * recorded as exited with its status lost. Starts the reaper and the
 * atexit handler on first use. 0, or -errno (then the caller still owns
 * pidfd). */
int weft__child_add(struct weft__child *c, pid_t pid, int pidfd,
                    unsigned flags);
/* Wait for exit (timeout convention). 0 once exited or lost, -ETIMEDOUT,
 * -EAGAIN (timeout 0), -ECHILD (handle inherited across fork). */
int weft__child_wait(struct weft__child *c, int timeout_ms);
/* 0 and *exitcode; WEFT_ERUNNING; WEFT_ENOSTATUS; -ECHILD. */
int weft__child_exitcode(struct weft__child *c, int *exitcode);
/* 1 while running, 0 otherwise. Reaps if the child just exited. */
int weft__child_alive(struct weft__child *c);
/* Signal through the pidfd; 0 if it already exited. -EINVAL bad signo. */
int weft__child_signal(struct weft__child *c, int signo);
/* Unregister and close the pidfd. -EBUSY while the child runs. */
int weft__child_remove(struct weft__child *c);

/* Record an exit code reported by the fork server for child pid
 * (called by the reaper thread with the registry lock NOT held). */
void weft__child_report(pid_t pid, int exitcode);
/* Mark every fork-server child whose pidfd shows it exited, and every one
 * that exits later, as LOST: the fork server went away. */
void weft__child_forkserver_gone(void);
/* Have the reaper watch fd too and call cb(fd) on its thread when fd is
 * readable or hung up; cb returns -1 to stop watching. One such fd at a
 * time (the fork server's status socket); fd -1 stops watching, and once
 * that returns no callback runs any more. Must not be called from cb.
 * 0 or -errno. */
int weft__reaper_watch(int fd, int (*cb)(int fd));
/* 1 if the reaper thread runs in this process. */
int weft__reaper_running(void);

/* Python's exit code from a waitid() siginfo code and status. */
int weft__exitcode_from(int code, int status);

/* Name of the current process ("MainProcess" or a child's name). */
void weft__set_current_name(const char *name);

#endif
