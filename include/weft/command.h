/* weft/command.h - running an external program with pipes to its standard
 * streams: Python's subprocess.Popen / subprocess.run for C.
 *
 * Model
 *   weft_command_start() starts argv[0] (searched in this process's PATH
 *   when it holds no '/'; a relative path is taken from cwd when one is
 *   given) with optional environment and working directory. Each of the
 *   child's stdin, stdout and stderr is inherited, connected to a pipe, sent
 *   to /dev/null, or (stderr only) merged into stdout. If the program cannot
 *   be started (not found, not executable, bad cwd) start fails with that
 *   errno and no child is left behind.
 *
 *   The child starts with no signal blocked and with SIGPIPE and SIGXFSZ at
 *   their defaults even if this program ignores them (as Python does).
 *   Descriptors other than 0..2 are inherited unless close-on-exec, as with
 *   posix_spawn (Python's close_fds=False).
 *
 *   weft_command_communicate() feeds the input and collects both outputs at
 *   once with poll(), so a child that fills one pipe while we wait on the
 *   other can never deadlock us. weft_command_run() is start + communicate +
 *   wait, killing the child on timeout (Python's subprocess.run).
 *
 *   The child is a weft child: reaped as soon as it exits (see proc.h), never
 *   a zombie, and its status is kept for weft_command_wait().
 *
 * Threads and fork
 *   One thread at a time per handle. Starting commands is safe in threaded
 *   programs (the child execs at once; weft uses posix_spawn's
 *   vfork-style start). Pipe descriptors are close-on-exec, but a process
 *   forked meanwhile holds copies of them until it execs or exits, and
 *   until then the child sees no end-of-file on its stdin. In a forked
 *   child, handles inherited from the parent are inert (-ECHILD).
 */
#ifndef WEFT_COMMAND_H
#define WEFT_COMMAND_H

#include <stddef.h>
#include <sys/types.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_command weft_command;

enum weft_stdio {
    WEFT_STDIO_INHERIT = 0, /* share the parent's stream */
    WEFT_STDIO_PIPE = 1,    /* a pipe the parent reads or writes */
    WEFT_STDIO_NULL = 2,    /* /dev/null */
    WEFT_STDIO_STDOUT = 3   /* stderr only: into the same place as stdout */
};

typedef struct weft_command_opts {
    const char *const *env; /* NULL-terminated "K=V" list; NULL inherits */
    const char *cwd;        /* working directory; NULL inherits */
    int stdin_mode;         /* enum weft_stdio */
    int stdout_mode;
    int stderr_mode;
} weft_command_opts;

/* Start argv (NULL-terminated, argv[0] not NULL). opts may be NULL: all
 * streams inherited. Errors: -EINVAL (bad argv or mode), -ENOENT, -EACCES,
 * -ENOTDIR... (the program or cwd could not be used), -EMFILE, -EAGAIN,
 * -ENOMEM. On error *out is NULL and nothing is left running. */
WEFT_API int weft_command_start(weft_command **out, const char *const argv[],
                                const weft_command_opts *opts);

/* The parent's end of a piped stream, or -1 if that stream is not a pipe
 * (or was closed). The handle keeps ownership; close it with
 * weft_command_close_stdin() to send end-of-file. */
WEFT_API int weft_command_stdin_fd(const weft_command *c);
WEFT_API int weft_command_stdout_fd(const weft_command *c);
WEFT_API int weft_command_stderr_fd(const weft_command *c);
/* Close our end of the child's stdin (it then reads end-of-file). */
WEFT_API void weft_command_close_stdin(weft_command *c);

/* Write in[0..in_len) to the child's stdin (if piped; then close it), and
 * read its piped stdout and stderr to end-of-file into out and err (either
 * may be NULL to discard), then wait for it to exit. Output is appended to
 * the buffers, up to their caps: -EMSGSIZE when more output is waiting
 * than a cap allows (the buffer holds exactly the cap, the rest stays in
 * the pipe, the child is left running). 0 on success, then
 * weft_command_wait() tells the exit code; -ETIMEDOUT (-EAGAIN for
 * timeout 0) with the child still running: the caller may kill it, then
 * call again with the same in/in_len to collect the rest (input already
 * written is not sent twice). -EINVAL for input without a stdin pipe.
 * -EPIPE is not an error here: a child that stops reading its input just
 * gets no more, and the SIGPIPE the write raises is consumed (SIGPIPE is
 * blocked in the calling thread around each write). */
WEFT_API int weft_command_communicate(weft_command *c, const void *in,
                                      size_t in_len, weft_buf *out,
                                      weft_buf *err, int timeout_ms);

/* Wait for the child to exit and set *exitcode (may be NULL) with Python's
 * meaning (N >= 0 status, -S killed by signal S). 0, -ETIMEDOUT/-EAGAIN
 * while it runs, WEFT_ENOSTATUS if SIGCHLD is ignored. */
WEFT_API int weft_command_wait(weft_command *c, int timeout_ms, int *exitcode);

/* Send a signal (weft_command_kill sends SIGKILL) through the pidfd, never
 * to a recycled pid. 0 if the child already exited. -EINVAL for NULL or a
 * signal number outside 1..NSIG-1. */
WEFT_API int weft_command_signal(weft_command *c, int signo);
WEFT_API int weft_command_kill(weft_command *c);
WEFT_API pid_t weft_command_pid(const weft_command *c);

/* Release the handle and close its pipes. NULL is a no-op (0). A child still
 * running gives -EBUSY and the handle stays valid (wait or kill first). */
WEFT_API int weft_command_destroy(weft_command *c);

/* Start, communicate, wait: the whole of Python's subprocess.run(). Input
 * needs opts->stdin_mode WEFT_STDIO_PIPE (else -EINVAL, nothing started).
 * On timeout the child is killed and reaped, and -ETIMEDOUT is returned with
 * the output gathered so far in out/err (timeout 0 too). On any other error
 * of communicate (-EMSGSIZE, -ENOMEM) the child is killed and reaped as
 * well. On success *exitcode (may be NULL) is set. */
WEFT_API int weft_command_run(const char *const argv[],
                              const weft_command_opts *opts, const void *in,
                              size_t in_len, weft_buf *out, weft_buf *err,
                              int timeout_ms, int *exitcode);

#ifdef __cplusplus
}
#endif
#endif
