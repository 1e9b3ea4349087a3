/* command.c - weft_command: an external program with pipes to its standard
 * streams (Python's subprocess.Popen and subprocess.run).
 *
 * The child is started with posix_spawnp(), which on glibc is a vfork-style
 * clone that execs at once: safe in threaded programs, and an exec failure
 * (ENOENT, EACCES, a bad cwd) comes back as its return value with the
 * failed child already reaped by glibc. Once it runs, the child is handed
 * to the child registry (child.c) with a pidfd, so the reaper thread reaps
 * it the moment it exits, whether or not anybody waits for it.
 *
 * communicate() multiplexes the three pipes with poll() so that a child
 * blocked writing one stream while we wait on another never deadlocks us.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/child_int.h"
#include "proc/pidfd_int.h"

#include <weft/command.h>

/* The unit of reads and writes: a default pipe's whole capacity. */
#define CHUNK (64 * 1024)

enum { IN = 0, OUT = 1, ERR = 2 };

struct weft_command {
    struct weft__child child; /* registered by start */
    int fd[3];                /* our pipe ends (IN/OUT/ERR), or -1 */
    bool stdin_piped;         /* stdin_mode was WEFT_STDIO_PIPE */
    size_t in_off; /* input written by communicate calls that timed out */
};

/* ---- Starting ---------------------------------------------------------- */

static bool mode_ok(int mode, bool is_stderr)
{
    return mode == WEFT_STDIO_INHERIT || mode == WEFT_STDIO_PIPE ||
           mode == WEFT_STDIO_NULL || (is_stderr && mode == WEFT_STDIO_STDOUT);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Move *fd above the standard streams. The child's dup2 actions run in
 * order 0, 1, 2; if the source of a later one sat on 0..2 (as happens when
 * the caller runs with a standard stream closed), an earlier one would
 * overwrite it. The copy is close-on-exec like the original. */
static int above_stdio(int *fd)
{
    int nfd;

    if (*fd > STDERR_FILENO)
        return 0;
    nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (nfd < 0)
        return -errno;
    close(*fd);
    *fd = nfd;
    return 0;
}

/* Make the pipe for stream i: ours gets our end, theirs the child's. */
static int make_pipe(int i, int *ours, int *theirs)
{
    int p[2], rc;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    /* The child reads stdin from the read end and writes the others. */
    *ours = i == IN ? p[1] : p[0];
    *theirs = i == IN ? p[0] : p[1];
    rc = above_stdio(theirs);
    if (rc < 0) {
        close_fd(ours);
        close_fd(theirs);
    }
    return rc;
}

/* Add the file action that gives the child its stream i. */
static int stdio_action(posix_spawn_file_actions_t *fa, int i, int mode,
                        int theirs)
{
    switch (mode) {
    case WEFT_STDIO_PIPE:
        return posix_spawn_file_actions_adddup2(fa, theirs, i);
    case WEFT_STDIO_NULL:
        return posix_spawn_file_actions_addopen(
            fa, i, "/dev/null", i == IN ? O_RDONLY : O_WRONLY, 0);
    case WEFT_STDIO_STDOUT:
        /* Runs after stream 1's action, so it copies the final stdout. */
        return posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO, i);
    default:
        return 0; /* inherited: nothing to do */
    }
}

/* posix_spawnp() with the file actions and attributes for opts; theirs
 * holds the child's pipe ends. Returns 0 and *pid, or a positive errno
 * value (as posix_spawn does). */
static int spawn(pid_t *pid, const char *const argv[],
                 const weft_command_opts *opts, const int modes[3],
                 const int theirs[3])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    char *const *envp;
    int rc, i;

    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    /* chdir first: a relative argv[0] is then found relative to cwd, as
     * in Python. */
    if (opts->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);
    for (i = IN; i <= ERR && rc == 0; i++)
        rc = stdio_action(&fa, i, modes[i], theirs[i]);
    /* The child starts with no signal blocked, whatever the calling thread
     * blocks. Handlers are reset by exec anyway, but ignored signals stay
     * ignored; like Python, give back the defaults of the ones a program
     * commonly ignores for itself and a child must not inherit. */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGXFSZ);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &dfl);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF);
    /* The exec family takes non-const vectors but never writes them. */
    envp = opts->env ? (char *const *)opts->env : environ;
    if (rc == 0)
        rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Kill and reap a child we could not register. Nobody else reaps our
 * children, so pid still names it. */
static void abandon(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int weft_command_start(weft_command **out, const char *const argv[],
                       const weft_command_opts *opts)
{
    weft_command_opts none = {0};
    int theirs[3] = {-1, -1, -1};
    int modes[3];
    weft_command *c;
    pid_t pid;
    int rc, pidfd, i;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &none;
    if (!argv || !argv[0] || !mode_ok(opts->stdin_mode, false) ||
        !mode_ok(opts->stdout_mode, false) || !mode_ok(opts->stderr_mode, true))
        return -EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd[IN] = c->fd[OUT] = c->fd[ERR] = -1;
    c->child.pidfd = -1;
    c->stdin_piped = opts->stdin_mode == WEFT_STDIO_PIPE;
    modes[IN] = opts->stdin_mode;
    modes[OUT] = opts->stdout_mode;
    modes[ERR] = opts->stderr_mode;
    rc = 0;
    for (i = IN; i <= ERR && rc == 0; i++)
        if (modes[i] == WEFT_STDIO_PIPE)
            rc = make_pipe(i, &c->fd[i], &theirs[i]);
    if (rc == 0)
        rc = -spawn(&pid, argv, opts, modes, theirs);
    /* The child has its copies (or never will): ours would only keep the
     * pipes from ever reporting end-of-file. */
    for (i = IN; i <= ERR; i++)
        close_fd(&theirs[i]);
    if (rc < 0)
        goto fail;
    pidfd = weft__pidfd_open(pid);
    if (pidfd < 0 && errno != ESRCH) {
        rc = -errno;
        abandon(pid);
        goto fail;
    }
    /* ESRCH: it already exited and the kernel reaped it (SIGCHLD
     * ignored); the registry records it as exited, status lost. */
    /* Flags 0: unlike processes, commands are not joined at program exit
     * (Python does not wait for Popen children either). */
    rc = weft__child_add(&c->child, pid, pidfd, 0);
    if (rc < 0) {
        abandon(pid);
        if (pidfd >= 0)
            close(pidfd);
        goto fail;
    }
    *out = c;
    return 0;

fail:
    for (i = IN; i <= ERR; i++)
        close_fd(&c->fd[i]);
    free(c);
    return rc;
}

/* ---- Pipes ------------------------------------------------------------- */

int weft_command_stdin_fd(const weft_command *c)
{
    return c ? c->fd[IN] : -1;
}

int weft_command_stdout_fd(const weft_command *c)
{
    return c ? c->fd[OUT] : -1;
}

int weft_command_stderr_fd(const weft_command *c)
{
    return c ? c->fd[ERR] : -1;
}

void weft_command_close_stdin(weft_command *c)
{
    if (c)
        close_fd(&c->fd[IN]);
}

/* write() that cannot kill us with SIGPIPE. Pipes have no MSG_NOSIGNAL,
 * and a library must not change the process-wide disposition, so SIGPIPE
 * is blocked for this thread around the write, and a SIGPIPE the write
 * raised is taken back before the mask is restored. The kernel raises it
 * on EPIPE, but also on a short write whose reader went away midway, so
 * both are checked. A SIGPIPE that was pending before is somebody else's
 * and stays. (One sent to the process by kill() within this window would
 * be taken too: a negligible, and harmless, loss.) */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n)
{
    static const struct timespec zero = {0, 0};
    sigset_t pipe_set, old, pending;
    bool was_pending;
    ssize_t w;
    int e;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    w = write(fd, p, n);
    e = errno;
    if (!was_pending && (w < 0 ? e == EPIPE : (size_t)w < n))
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

/* Write the next chunk of input; close stdin once it has all gone or the
 * child stopped reading (EPIPE: it just gets no more, as in Python). */
static int feed(weft_command *c, const char *in, size_t in_len)
{
    size_t n = in_len - c->in_off;
    ssize_t w;

    if (n > CHUNK)
        n = CHUNK;
    w = write_nosigpipe(c->fd[IN], in + c->in_off, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        if (errno != EPIPE)
            return -errno;
        close_fd(&c->fd[IN]);
        return 0;
    }
    c->in_off += (size_t)w;
    if (c->in_off >= in_len)
        close_fd(&c->fd[IN]);
    return 0;
}

/* Read what stream i has into b (NULL discards), or close it at EOF. Never
 * reads past b's cap: a full buffer with more data waiting is -EMSGSIZE
 * and the data stays in the pipe. */
static int drain(weft_command *c, int i, weft_buf *b, short revents,
                 char *scratch)
{
    size_t want = CHUNK, room;
    ssize_t r;

    if (b) {
        room = b->len < b->max ? b->max - b->len : 0;
        if (room == 0) {
            /* POLLIN on a pipe means data; a bare POLLHUP means the
             * writers are gone and nothing is left: the end. */
            if (revents & POLLIN)
                return -EMSGSIZE;
            close_fd(&c->fd[i]);
            return 0;
        }
        if (want > room)
            want = room;
    }
    r = read(c->fd[i], scratch, want);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (r == 0) {
        close_fd(&c->fd[i]);
        return 0;
    }
    return b ? weft_buf_append(b, scratch, (size_t)r) : 0;
}

/* Run the poll loop until every pipe is closed, the deadline passes
 * (then tmo) or an error. */
static int pump(weft_command *c, const char *in, size_t in_len, weft_buf *out,
                weft_buf *err, weft_deadline dl, int tmo)
{
    weft_buf *bufs[3] = {NULL, out, err};
    struct pollfd pfd[3];
    char *scratch = NULL;
    bool first = true;
    int which[3];
    int n, i, rc = 0;

    if (c->fd[OUT] >= 0 || c->fd[ERR] >= 0) {
        scratch = malloc(CHUNK);
        if (!scratch)
            return -ENOMEM;
    }
    for (;;) {
        n = 0;
        for (i = IN; i <= ERR; i++) {
            if (c->fd[i] < 0)
                continue;
            pfd[n].fd = c->fd[i];
            pfd[n].events = i == IN ? POLLOUT : POLLIN;
            pfd[n].revents = 0;
            which[n++] = i;
        }
        if (n == 0)
            break;
        /* Checked after each round, not only when poll() times out: a
         * child that never stops writing keeps poll() ready forever. The
         * first round always runs, so timeout 0 takes what is ready. */
        if (!first && weft_deadline_expired(dl)) {
            rc = tmo;
            break;
        }
        first = false;
        if (poll(pfd, (nfds_t)n, weft_deadline_remaining_ms(dl)) < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        for (i = 0; i < n && rc == 0; i++) {
            if (!pfd[i].revents)
                continue;
            if (which[i] == IN)
                rc = feed(c, in, in_len);
            else
                rc =
                    drain(c, which[i], bufs[which[i]], pfd[i].revents, scratch);
        }
        if (rc < 0)
            break;
    }
    free(scratch);
    return rc;
}

int weft_command_communicate(weft_command *c, const void *in, size_t in_len,
                             weft_buf *out, weft_buf *err, int timeout_ms)
{
    weft_deadline dl = weft_deadline_in(timeout_ms);
    int tmo = timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
    int flags = -1, rc;

    if (!c || (in_len && !in) || (in_len && !c->stdin_piped))
        return -EINVAL;
    /* A call after a timeout continues the input where it stopped; with
     * nothing (more) to send, the child gets its end-of-file now. */
    if (c->fd[IN] >= 0 && c->in_off >= in_len)
        close_fd(&c->fd[IN]);
    /* Non-blocking only while we pump: a caller using the descriptor
     * itself expects the ordinary blocking pipe. */
    if (c->fd[IN] >= 0) {
        flags = fcntl(c->fd[IN], F_GETFL);
        if (flags < 0 || fcntl(c->fd[IN], F_SETFL, flags | O_NONBLOCK) < 0)
            return -errno;
    }
    rc = pump(c, in, in_len, out, err, dl, tmo);
    if (c->fd[IN] >= 0)
        fcntl(c->fd[IN], F_SETFL, flags);
    if (rc < 0)
        return rc;
    /* Every pipe is at end-of-file; the child may still be finishing. */
    rc = weft__child_wait(&c->child, weft_deadline_remaining_ms(dl));
    if (rc == -EAGAIN || rc == -ETIMEDOUT)
        return tmo;
    return rc;
}

/* ---- Waiting, signals, release ----------------------------------------- */

int weft_command_wait(weft_command *c, int timeout_ms, int *exitcode)
{
    int code, rc;

    if (!c)
        return -EINVAL;
    rc = weft__child_wait(&c->child, timeout_ms);
    if (rc < 0)
        return rc;
    rc = weft__child_exitcode(&c->child, &code);
    if (rc == 0 && exitcode)
        *exitcode = code;
    return rc;
}

int weft_command_signal(weft_command *c, int signo)
{
    if (!c || signo <= 0 || signo >= NSIG)
        return -EINVAL;
    return weft__child_signal(&c->child, signo);
}

int weft_command_kill(weft_command *c)
{
    return weft_command_signal(c, SIGKILL);
}

pid_t weft_command_pid(const weft_command *c)
{
    return c ? c->child.pid : 0;
}

int weft_command_destroy(weft_command *c)
{
    int rc, i;

    if (!c)
        return 0;
    rc = weft__child_remove(&c->child);
    if (rc < 0)
        return rc;
    for (i = IN; i <= ERR; i++)
        close_fd(&c->fd[i]);
    free(c);
    return 0;
}

int weft_command_run(const char *const argv[], const weft_command_opts *opts,
                     const void *in, size_t in_len, weft_buf *out,
                     weft_buf *err, int timeout_ms, int *exitcode)
{
    weft_command *c;
    int rc, code;

    /* Refuse input that could not be delivered before anything runs. */
    if (in_len && (!in || !opts || opts->stdin_mode != WEFT_STDIO_PIPE))
        return -EINVAL;
    rc = weft_command_start(&c, argv, opts);
    if (rc < 0)
        return rc;
    rc = weft_command_communicate(c, in, in_len, out, err, timeout_ms);
    if (rc < 0) {
        /* Whatever went wrong, the child does not outlive the call. Its
         * pipes are not read further: a grandchild holding them open
         * could keep us here forever (Python's run() does the same). */
        weft_command_kill(c);
        weft_command_wait(c, -1, NULL);
        weft_command_destroy(c);
        return rc == -EAGAIN ? -ETIMEDOUT : rc;
    }
    rc = weft_command_wait(c, -1, &code);
    if (rc == 0 && exitcode)
        *exitcode = code;
    weft_command_destroy(c);
    return rc;
}
