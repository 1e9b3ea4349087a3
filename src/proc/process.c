/* process.c - weft_process: a function run in a child process.
 *
 * The parent forks (or asks the fork server to), opens a pidfd for the
 * child and hands it to the child registry (child.c), which reaps it when
 * it exits. The child arms its parent-death signal if it is a daemon, runs
 * the function, joins its own children, flushes stdio and _exit()s with
 * the function's return value - it never runs the parent's atexit
 * handlers, which belong to the parent (Python does the same).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proc/child_int.h"
#include "proc/pidfd_int.h"
#include "proc/process_int.h"

#include <weft/proc.h>

static atomic_uint process_counter;
static atomic_int default_method = WEFT_START_FORK;
static const char *current_name = "MainProcess";
static char current_name_buf[64];

void weft__set_current_name(const char *name)
{
    snprintf(current_name_buf, sizeof current_name_buf, "%s", name);
    current_name = current_name_buf;
}

const char *weft_current_name(void)
{
    return current_name;
}

pid_t weft_current_pid(void)
{
    return getpid();
}

pid_t weft_parent_pid(void)
{
    return getppid();
}

int weft_cpu_count(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int weft_set_start_method(int method)
{
    if (method != WEFT_START_FORK && method != WEFT_START_FORKSERVER)
        return -EINVAL;
    atomic_store(&default_method, method);
    return 0;
}

int weft_get_start_method(void)
{
    return atomic_load(&default_method);
}

/* ---- Lifecycle --------------------------------------------------------- */

int weft_process_create(weft_process **out, weft_process_fn fn, void *arg,
                        const weft_process_opts *opts)
{
    weft_process_opts none = {0};
    weft_process *p;
    size_t namelen;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &none;
    if (!fn || (arg && opts->arg_bytes) || (opts->arg_len && !opts->arg_bytes))
        return -EINVAL;
    if (opts->start_method < WEFT_START_DEFAULT ||
        opts->start_method > WEFT_START_FORKSERVER)
        return -EINVAL;
    /* A pointer into our memory means nothing in the fork server's copy. */
    if (opts->start_method == WEFT_START_FORKSERVER && arg)
        return -EINVAL;
    p = calloc(1, sizeof *p + opts->arg_len);
    if (!p)
        return -ENOMEM;
    if (opts->name) {
        namelen = strlen(opts->name);
        p->name = malloc(namelen + 1);
        if (!p->name) {
            free(p);
            return -ENOMEM;
        }
        memcpy(p->name, opts->name, namelen + 1);
    } else {
        p->name = malloc(32);
        if (!p->name) {
            free(p);
            return -ENOMEM;
        }
        snprintf(p->name, 32, "Process-%u",
                 atomic_fetch_add(&process_counter, 1) + 1);
    }
    p->fn = fn;
    p->arg = arg;
    p->daemon = opts->daemon;
    p->method = opts->start_method;
    p->has_bytes = opts->arg_bytes != NULL;
    p->arg_len = opts->arg_len;
    if (opts->arg_len)
        memcpy(p->arg_bytes, opts->arg_bytes, opts->arg_len);
    p->child.pidfd = -1;
    *out = p;
    return 0;
}

void *weft__process_arg(weft_process *p)
{
    return p->has_bytes ? (void *)p->arg_bytes : p->arg;
}

/* In a freshly forked child: become the process, run it, never return. */
void weft__process_child_main(weft_process_fn fn, void *arg, const char *name,
                              bool daemon, pid_t parent)
{
    int rc;

    if (daemon) {
        /* Dies with the parent, even a SIGKILLed one. If the parent died
         * before the line above ran, getppid() already shows the adopter. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(255);
    }
    weft__set_current_name(name);
    rc = fn(arg);
    /* What a normal exit of the child itself does, minus the parent's
     * atexit handlers: wait for its own children, flush its stdio. */
    weft__child_exit_all();
    fflush(NULL);
    _exit(rc & 0xff);
}

static int start_fork(weft_process *p)
{
    pid_t parent = getpid();
    sigset_t all, old;
    pid_t pid;
    int pidfd, rc;

    /* Otherwise the child inherits unwritten stdio buffers and writes them
     * a second time when it flushes (Python flushes before fork too). */
    fflush(NULL);
    /* No signal may reach the child before the atfork handlers have given
     * it its own dispositions back (signal.c): a SIGTERM sent the instant
     * it exists must kill it, not land in its parent's subscription. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        weft__process_child_main(p->fn, weft__process_arg(p), p->name,
                                 p->daemon, parent);
    }
    rc = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return -rc;
    /* Nobody else reaps our children (unless SIGCHLD is ignored, which the
     * registry notices), so the pid still names this child here. */
    pidfd = weft__pidfd_open(pid);
    if (pidfd < 0 && errno != ESRCH) {
        rc = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return rc;
    }
    /* ESRCH: it already ran and the kernel reaped it (SIGCHLD ignored);
     * it is registered as exited with its status lost. */
    rc = weft__child_add(&p->child, pid, pidfd,
                         WEFT__CHILD_JOIN_AT_EXIT |
                             (p->daemon ? WEFT__CHILD_DAEMON : 0));
    if (rc < 0) {
        kill(pid, SIGKILL); /* still our unreaped child: pid is safe */
        waitpid(pid, NULL, 0);
        if (pidfd >= 0)
            close(pidfd);
        return rc;
    }
    return 0;
}

int weft_process_start(weft_process *p)
{
    int method, rc;

    if (!p)
        return -EINVAL;
    if (p->started)
        return WEFT_ESTARTED;
    method = p->method ? p->method : weft_get_start_method();
    if (method == WEFT_START_FORKSERVER) {
        if (p->arg)
            return -EINVAL;
        rc = weft__forkserver_spawn(p);
    } else {
        rc = start_fork(p);
    }
    if (rc == 0)
        p->started = true;
    return rc;
}

int weft_process_run(weft_process *p)
{
    if (!p)
        return -EINVAL;
    return p->fn(weft__process_arg(p));
}

int weft_process_join(weft_process *p, int timeout_ms)
{
    if (!p)
        return -EINVAL;
    if (!p->started)
        return WEFT_ENOTSTARTED;
    return weft__child_wait(&p->child, timeout_ms);
}

int weft_process_is_alive(weft_process *p)
{
    if (!p || !p->started)
        return 0;
    return weft__child_alive(&p->child);
}

int weft_process_signal(weft_process *p, int signo)
{
    if (!p)
        return -EINVAL;
    if (signo <= 0 || signo >= NSIG)
        return -EINVAL;
    if (!p->started)
        return WEFT_ENOTSTARTED;
    return weft__child_signal(&p->child, signo);
}

int weft_process_terminate(weft_process *p)
{
    return weft_process_signal(p, SIGTERM);
}

int weft_process_kill(weft_process *p)
{
    return weft_process_signal(p, SIGKILL);
}

int weft_process_exitcode(weft_process *p, int *code)
{
    if (!p || !code)
        return -EINVAL;
    if (!p->started)
        return WEFT_ENOTSTARTED;
    return weft__child_exitcode(&p->child, code);
}

pid_t weft_process_pid(const weft_process *p)
{
    return p && p->started ? p->child.pid : 0;
}

int weft_process_sentinel(const weft_process *p)
{
    if (!p)
        return -EINVAL;
    if (!p->started)
        return WEFT_ENOTSTARTED;
    return p->child.pidfd >= 0 ? p->child.pidfd : -ESRCH;
}

const char *weft_process_name(const weft_process *p)
{
    return p ? p->name : NULL;
}

bool weft_process_daemon(const weft_process *p)
{
    return p && p->daemon;
}

int weft_process_destroy(weft_process *p)
{
    int rc;

    if (!p)
        return 0;
    if (p->started) {
        rc = weft__child_remove(&p->child);
        if (rc < 0)
            return rc;
    }
    free(p->name);
    free(p);
    return 0;
}
