/* child.c - the registry of weft's children and the reaper thread.
 * See child_int.h for the model and the lock and fork rules. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log_int.h"
#include "proc/child_int.h"
#include "proc/pidfd_int.h"
#include "proc/process_int.h"

#include <weft/proc.h>

/* Epoll tag of the extra watched descriptor (never a child id). */
#define WATCH_TAG UINT64_MAX

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cond;      /* status changed; CLOCK_MONOTONIC */
static struct weft__child *reg_head; /* all listed children */
static uint64_t reg_next_id = 1;
static int reaper_epfd = -1;
static bool reaper_running;
static bool atexit_done; /* atexit handler registered */
/* The extra watched descriptor. watch_lock is held by the reaper while it
 * runs the callback, so that once weft__reaper_watch() returns no callback
 * is still running on the old descriptor. Order: watch_lock, reg_lock. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static int watch_fd = -1;
static int (*watch_cb)(int fd);
static bool forkserver_gone;
/* Fork-server reports that came before their child was registered (the
 * child can exit before the spawning thread has added it). */
#define PENDING_MAX 64
static struct {
    pid_t pid;
    int exitcode;
} pending[PENDING_MAX];
static unsigned pending_next;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* This process's pid, kept so that the ownership check on every call is
 * not a system call; refreshed in the atfork child handler. */
static pid_t self_pid;

static void child_atexit(void)
{
    weft__child_exit_all();
}

/* ---- Fork handling ---------------------------------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&watch_lock);
    pthread_mutex_lock(&reg_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&watch_lock);
}

/* The child has only the forking thread: no reaper, and none of the
 * parent's children are its own. Close what it inherited so siblings are
 * not kept referenced, and empty the list (the entries belong to handles
 * in the parent's memory; they turn inert through their owner field). */
static void atfork_child(void)
{
    struct weft__child *c;

    for (c = reg_head; c; c = c->next) {
        if (c->pidfd >= 0)
            close(c->pidfd);
        c->pidfd = -1;
        c->listed = false;
        c->watched = false;
    }
    reg_head = NULL;
    self_pid = getpid();
    if (reaper_epfd >= 0)
        close(reaper_epfd);
    reaper_epfd = -1;
    reaper_running = false;
    watch_fd = -1;
    watch_cb = NULL;
    forkserver_gone = false;
    memset(pending, 0, sizeof pending);
    /* A waiter in another thread of the parent may have left the condition
     * variable mid-wait; nobody waits on it in the child yet. */
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&reg_cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&watch_lock);
}

static void init_registry(void)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&reg_cond, &ca);
    pthread_condattr_destroy(&ca);
    self_pid = getpid();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- Reaping ----------------------------------------------------------- */

int weft__exitcode_from(int code, int status)
{
    if (code == CLD_EXITED)
        return status;
    return -status; /* CLD_KILLED, CLD_DUMPED */
}

static void unwatch_locked(struct weft__child *c)
{
    if (c->watched && reaper_epfd >= 0 && c->pidfd >= 0)
        epoll_ctl(reaper_epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
    c->watched = false;
}

/* Reap c if it has exited. Registry lock held. */
static void reap_locked(struct weft__child *c)
{
    siginfo_t si;
    int rc;

    if (c->state != WEFT__CHILD_RUNNING || c->pidfd < 0)
        return;
    if (c->flags & WEFT__CHILD_VIA_FORKSERVER) {
        /* Not our child: only the fork server's report tells the status.
         * If the server is gone and the child too, the status is lost. */
        struct pollfd pfd = {c->pidfd, POLLIN, 0};
        if (forkserver_gone && poll(&pfd, 1, 0) == 1) {
            c->state = WEFT__CHILD_LOST;
            unwatch_locked(c);
            pthread_cond_broadcast(&reg_cond);
        }
        return;
    }
    memset(&si, 0, sizeof si);
    do
        rc = waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc == 0 && si.si_pid == 0)
        return; /* still running */
    if (rc == 0) {
        c->state = WEFT__CHILD_EXITED;
        c->exitcode = weft__exitcode_from(si.si_code, si.si_status);
    } else {
        /* ECHILD: SIGCHLD is ignored (the kernel reaped it) or somebody
         * else's waitpid(-1) took it. The pidfd said it exited. */
        c->state = WEFT__CHILD_LOST;
        weft__log(WEFT_LOG_WARN, "child %d: exit status lost: %s", (int)c->pid,
                  strerror(errno));
    }
    unwatch_locked(c);
    pthread_cond_broadcast(&reg_cond);
}

static struct weft__child *find_id_locked(uint64_t id)
{
    struct weft__child *c;

    for (c = reg_head; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void *reaper_main(void *unused)
{
    struct epoll_event ev[32];
    int n, i, epfd;

    (void)unused;
    pthread_mutex_lock(&reg_lock);
    epfd = reaper_epfd;
    pthread_mutex_unlock(&reg_lock);
    for (;;) {
        n = epoll_wait(epfd, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            weft__log(WEFT_LOG_ERROR, "reaper: epoll_wait: %s",
                      strerror(errno));
            return NULL;
        }
        for (i = 0; i < n; i++) {
            if (ev[i].data.u64 == WATCH_TAG) {
                pthread_mutex_lock(&watch_lock);
                if (watch_cb && watch_fd >= 0 && watch_cb(watch_fd) < 0) {
                    epoll_ctl(epfd, EPOLL_CTL_DEL, watch_fd, NULL);
                    watch_fd = -1;
                    watch_cb = NULL;
                }
                pthread_mutex_unlock(&watch_lock);
                continue;
            }
            pthread_mutex_lock(&reg_lock);
            struct weft__child *c = find_id_locked(ev[i].data.u64);
            if (c)
                reap_locked(c);
            pthread_mutex_unlock(&reg_lock);
        }
    }
    return NULL;
}

/* Start the reaper if it is not running. Registry lock held. */
static int reaper_start_locked(void)
{
    pthread_t tid;
    pthread_attr_t attr;
    sigset_t all, old;
    int rc;

    if (reaper_running)
        return 0;
    reaper_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (reaper_epfd < 0)
        return -errno;
    /* Signals are for the program's own threads, never for the reaper. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    rc = pthread_create(&tid, &attr, reaper_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(reaper_epfd);
        reaper_epfd = -1;
        return -rc;
    }
#ifdef __GLIBC__
    pthread_setname_np(tid, "weft-reaper");
#endif
    reaper_running = true;
    return 0;
}

/* ---- Registry ---------------------------------------------------------- */

int weft__child_add(struct weft__child *c, pid_t pid, int pidfd, unsigned flags)
{
    struct epoll_event ev;
    int rc;

    pthread_once(&init_once, init_registry);
    pthread_mutex_lock(&reg_lock);
    rc = reaper_start_locked();
    if (rc < 0) {
        pthread_mutex_unlock(&reg_lock);
        return rc;
    }
    c->pid = pid;
    c->pidfd = pidfd;
    c->flags = flags;
    c->state = WEFT__CHILD_RUNNING;
    c->exitcode = 0;
    c->id = reg_next_id++;
    c->owner = self_pid;
    if (pidfd < 0) {
        /* Gone before it could be named: only the kernel's auto-reap
         * (SIGCHLD ignored) does that to a child of ours. */
        c->state = WEFT__CHILD_LOST;
        goto list;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (epoll_ctl(reaper_epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
        rc = -errno;
        pthread_mutex_unlock(&reg_lock);
        return rc;
    }
    c->watched = true;
    if (flags & WEFT__CHILD_VIA_FORKSERVER) {
        unsigned i;
        for (i = 0; i < PENDING_MAX; i++) {
            if (pending[i].pid == pid) {
                c->state = WEFT__CHILD_EXITED;
                c->exitcode = pending[i].exitcode;
                pending[i].pid = 0;
                unwatch_locked(c);
                break;
            }
        }
    }
list:
    c->prev = NULL;
    c->next = reg_head;
    if (reg_head)
        reg_head->prev = c;
    reg_head = c;
    c->listed = true;
    if (!atexit_done) {
        atexit(child_atexit);
        atexit_done = true;
    }
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

static bool foreign(const struct weft__child *c)
{
    return c->owner != self_pid;
}

int weft__child_wait(struct weft__child *c, int timeout_ms)
{
    weft_deadline dl = weft_deadline_in(timeout_ms);
    struct timespec ts;
    struct pollfd pfd;
    int rc;

    if (foreign(c))
        return -ECHILD;
    pthread_mutex_lock(&reg_lock);
    for (;;) {
        reap_locked(c);
        if (c->state != WEFT__CHILD_RUNNING)
            break;
        if (timeout_ms == 0) {
            pthread_mutex_unlock(&reg_lock);
            return -EAGAIN;
        }
        if (weft_deadline_expired(dl)) {
            pthread_mutex_unlock(&reg_lock);
            return -ETIMEDOUT;
        }
        if (c->flags & WEFT__CHILD_VIA_FORKSERVER) {
            /* The reaper records the fork server's report; wait for it.
             * Wake now and then in case the server died (then the pidfd
             * is all we have). */
            int64_t at =
                dl == WEFT_DEADLINE_NEVER ? weft_now_ns() + 100000000 : dl;
            if (at > weft_now_ns() + 100000000)
                at = weft_now_ns() + 100000000;
            ts.tv_sec = at / 1000000000;
            ts.tv_nsec = at % 1000000000;
            pthread_cond_timedwait(&reg_cond, &reg_lock, &ts);
            continue;
        }
        /* Our own child: sleep on its pidfd directly rather than on the
         * reaper's word, which would cost a second wake-up. */
        pfd.fd = c->pidfd;
        pfd.events = POLLIN;
        pthread_mutex_unlock(&reg_lock);
        rc = poll(&pfd, 1, weft_deadline_remaining_ms(dl));
        pthread_mutex_lock(&reg_lock);
        if (rc < 0 && errno != EINTR) {
            rc = -errno;
            pthread_mutex_unlock(&reg_lock);
            return rc;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

int weft__child_exitcode(struct weft__child *c, int *exitcode)
{
    int rc;

    if (foreign(c))
        return -ECHILD;
    pthread_mutex_lock(&reg_lock);
    reap_locked(c);
    switch (c->state) {
    case WEFT__CHILD_EXITED:
        *exitcode = c->exitcode;
        rc = 0;
        break;
    case WEFT__CHILD_LOST:
        rc = WEFT_ENOSTATUS;
        break;
    default:
        rc = WEFT_ERUNNING;
        break;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

int weft__child_alive(struct weft__child *c)
{
    int alive;

    if (foreign(c))
        return 0;
    pthread_mutex_lock(&reg_lock);
    reap_locked(c);
    alive = c->state == WEFT__CHILD_RUNNING;
    pthread_mutex_unlock(&reg_lock);
    return alive;
}

int weft__child_signal(struct weft__child *c, int signo)
{
    int rc = 0;

    if (signo < 0 || signo >= NSIG)
        return -EINVAL;
    if (foreign(c))
        return -ECHILD;
    pthread_mutex_lock(&reg_lock);
    reap_locked(c);
    /* Under the lock the child cannot be reaped between the check and the
     * signal; and a pidfd never names a recycled pid anyway. */
    if (c->state == WEFT__CHILD_RUNNING &&
        weft__pidfd_send_signal(c->pidfd, signo) < 0) {
        rc = -errno;
        if (rc == -ESRCH) /* exited, not reaped yet: nothing to do */
            rc = 0;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

int weft__child_remove(struct weft__child *c)
{
    if (foreign(c))
        return 0; /* nothing of it is ours in this process */
    pthread_mutex_lock(&reg_lock);
    reap_locked(c);
    if (c->state == WEFT__CHILD_RUNNING) {
        pthread_mutex_unlock(&reg_lock);
        return -EBUSY;
    }
    if (c->listed) {
        unwatch_locked(c);
        if (c->prev)
            c->prev->next = c->next;
        else
            reg_head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->listed = false;
    }
    if (c->pidfd >= 0)
        close(c->pidfd);
    c->pidfd = -1;
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

/* ---- Fork server reports ---------------------------------------------- */

void weft__child_report(pid_t pid, int exitcode)
{
    struct weft__child *c;

    pthread_mutex_lock(&reg_lock);
    for (c = reg_head; c; c = c->next) {
        if (c->pid == pid && (c->flags & WEFT__CHILD_VIA_FORKSERVER) &&
            c->state == WEFT__CHILD_RUNNING) {
            c->state = WEFT__CHILD_EXITED;
            c->exitcode = exitcode;
            unwatch_locked(c);
            pthread_cond_broadcast(&reg_cond);
            pthread_mutex_unlock(&reg_lock);
            return;
        }
    }
    pending[pending_next % PENDING_MAX].pid = pid;
    pending[pending_next % PENDING_MAX].exitcode = exitcode;
    pending_next++;
    pthread_mutex_unlock(&reg_lock);
}

void weft__child_forkserver_gone(void)
{
    struct weft__child *c;

    pthread_mutex_lock(&reg_lock);
    forkserver_gone = true;
    for (c = reg_head; c; c = c->next)
        reap_locked(c);
    pthread_mutex_unlock(&reg_lock);
}

int weft__reaper_watch(int fd, int (*cb)(int fd))
{
    struct epoll_event ev;
    int rc = 0;

    pthread_once(&init_once, init_registry);
    pthread_mutex_lock(&watch_lock);
    pthread_mutex_lock(&reg_lock);
    rc = reaper_start_locked();
    if (rc == 0 && watch_fd >= 0)
        epoll_ctl(reaper_epfd, EPOLL_CTL_DEL, watch_fd, NULL);
    watch_fd = -1;
    watch_cb = NULL;
    if (rc == 0 && fd >= 0) {
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = WATCH_TAG;
        if (epoll_ctl(reaper_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            rc = -errno;
        } else {
            watch_fd = fd;
            watch_cb = cb;
            forkserver_gone = false;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&watch_lock);
    return rc;
}

int weft__reaper_running(void)
{
    int r;

    pthread_mutex_lock(&reg_lock);
    r = reaper_running;
    pthread_mutex_unlock(&reg_lock);
    return r;
}

/* ---- Program exit ------------------------------------------------------ */

/* Python's exit behaviour: terminate daemon children, then join every
 * child that is joined at exit (daemons included, so none outlives us). */
void weft__child_exit_all(void)
{
    struct weft__child *c, *next;
    pid_t me = self_pid;

    pthread_mutex_lock(&reg_lock);
    for (c = reg_head; c; c = c->next) {
        reap_locked(c);
        if (c->owner == me && (c->flags & WEFT__CHILD_DAEMON) &&
            c->state == WEFT__CHILD_RUNNING)
            weft__pidfd_send_signal(c->pidfd, SIGTERM);
    }
    pthread_mutex_unlock(&reg_lock);
    for (;;) {
        struct weft__child *todo = NULL;
        pthread_mutex_lock(&reg_lock);
        for (c = reg_head; c; c = next) {
            next = c->next;
            if (c->owner == me && c->state == WEFT__CHILD_RUNNING &&
                (c->flags & (WEFT__CHILD_JOIN_AT_EXIT | WEFT__CHILD_DAEMON))) {
                todo = c;
                break;
            }
        }
        pthread_mutex_unlock(&reg_lock);
        if (!todo)
            break;
        /* The handle may not be destroyed while it runs, so todo stays
         * valid: weft_process_destroy refuses a running child. */
        weft__child_wait(todo, -1);
    }
}
