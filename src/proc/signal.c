/* signal.c - signals handled in ordinary code (see weft/signal.h).
 *
 * The handler weft installs does one thing: it turns a delivery into a
 * weft_signal_info record and write()s it to the pipe of every subscription
 * on that signal. Everything else - reading, callbacks, the helper thread -
 * is ordinary code working on the read ends.
 *
 * Why the handler is async-signal-safe. It may run on any thread at any
 * instant, also while another thread is halfway through subscribing or
 * closing, so it takes no lock and touches only:
 *   - subs[signo][]: a fixed table of lock-free atomic ints holding the
 *     write ends of the subscribers' pipes as fd + 1 (0 is a free slot, so
 *     the zeroed static table starts out empty);
 *   - busy[signo]: how many runs of the handler for signo are walking that
 *     row right now;
 *   - write(2), which is async-signal-safe, and errno, saved and restored.
 * Ordinary code changes the table under sig_lock, one writer at a time.
 * The hazard is closing: a handler may have loaded a write fd just before
 * its slot was cleared; if the fd were then closed and its number reused
 * (by any thread, for any file), the handler would write a record into a
 * stranger's file. So an unsubscriber clears the slot, waits until busy[]
 * reads 0, and only then closes the fd. Both sides use sequentially
 * consistent atomics in Dekker's pattern - the handler increments busy[]
 * and then loads the slot, the closer clears the slot and then loads
 * busy[] - so in their single total order either the closer sees the
 * increment (and waits for the decrement, which follows the write) or the
 * handler's load follows the clear (and finds the slot empty). The wait
 * is short: a handler run is a few non-blocking writes.
 *
 * Records are 20 bytes, far below PIPE_BUF, so each write() is atomic and
 * every read() of one record's size gets exactly one whole record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include <weft/signal.h>

/* Subscriptions one signal can have at once; more fail with -EMFILE. */
#define SLOTS 32
/* The kernel's first real-time signal. glibc keeps it and the next one
 * for itself (thread cancellation, setxid) and reports SIGRTMIN above
 * them; sigaction() refuses them. */
#define KERNEL_SIGRTMIN 32

/* The handler relies on these being lock-free: a lock-based atomic could
 * deadlock against a run of the handler that interrupted its holder. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");
_Static_assert(sizeof(weft_signal_info) <= PIPE_BUF, "record write atomic");

struct weft_signals {
    int rfd, wfd;        /* the pipe; the handler writes wfd */
    sigset_t set;        /* the subscribed signals */
    pid_t owner;         /* process that opened it (fork detection) */
    int evfd;            /* wakes the helper thread to stop; -1 if none */
    atomic_bool started; /* a helper thread was started */
    atomic_bool stop;    /* the helper thread must return */
    bool self_closed;    /* closed by cb on the helper thread itself */
    pthread_t thread;    /* valid while started */
    weft_signal_cb cb;   /* the helper thread's callback ... */
    void *userdata;      /* ... and its argument */
};

/* Read by the handler without locks (see the top of the file). */
static atomic_int subs[NSIG][SLOTS];
static atomic_uint busy[NSIG];

/* Under sig_lock: subscriber counts and the dispositions to restore. */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int nsubs[NSIG];
static struct sigaction prev[NSIG];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---- The handler ------------------------------------------------------ */

/* True if si_pid and si_uid name a sender (or, for SIGCHLD, the child);
 * for other codes those fields overlap unrelated union members. */
static bool has_sender(int signo, int code)
{
    if (signo == SIGCHLD && code > 0)
        return true; /* CLD_EXITED, CLD_KILLED, ... */
    return code == SI_USER || code == SI_QUEUE || code == SI_TKILL ||
           code == SI_MESGQ;
}

static void on_signal(int signo, siginfo_t *si, void *uctx)
{
    int saved_errno = errno;
    weft_signal_info rec;
    ssize_t n;
    int i, fd;

    (void)uctx;
    if (signo <= 0 || signo >= NSIG)
        return;
    memset(&rec, 0, sizeof rec);
    rec.signo = signo;
    if (si) {
        rec.code = si->si_code;
        if (has_sender(signo, si->si_code)) {
            rec.pid = si->si_pid;
            rec.uid = si->si_uid;
        }
        if (signo == SIGCHLD && si->si_code > 0)
            rec.status = si->si_status;
    }
    atomic_fetch_add(&busy[signo], 1);
    for (i = 0; i < SLOTS; i++) {
        fd = atomic_load(&subs[signo][i]) - 1;
        if (fd < 0)
            continue;
        /* A full pipe (EAGAIN) drops the record: that subscriber is not
         * reading, and waiting here would hang the interrupted thread. */
        n = write(fd, &rec, sizeof rec);
        (void)n;
    }
    atomic_fetch_sub(&busy[signo], 1);
    errno = saved_errno;
}

/* ---- The subscriber table (ordinary code) ---------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&sig_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&sig_lock);
}

/* Subscriptions belong to the process that opened them. In a child the
 * handler must not feed the parent's pipes: a child whose parent listens
 * for SIGTERM would otherwise queue its own SIGTERM there instead of
 * dying, and weft_process_terminate() would not end it. So the child gets
 * the previous dispositions back and an empty table; its copies of the
 * pipes stay silent until it closes them. busy[] is reset too: a handler
 * running on another thread at the instant of fork left its count there,
 * and that thread does not exist in the child. */
static void atfork_child(void)
{
    int i, j;

    for (i = 1; i < NSIG; i++) {
        if (nsubs[i] > 0)
            sigaction(i, &prev[i], NULL);
        nsubs[i] = 0;
        for (j = 0; j < SLOTS; j++)
            atomic_store(&subs[i][j], 0);
        atomic_store(&busy[i], 0);
    }
    pthread_mutex_unlock(&sig_lock);
}

static void init_table(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Take sig_lock with the signals in set blocked in this thread. Not needed
 * for correctness (the handler takes no lock, and a run of it on this
 * thread ends before we resume), but it keeps the handler from running on
 * top of a half-done update here, so busy[] only counts other threads. */
static void lock_table(const sigset_t *set, sigset_t *oldmask)
{
    pthread_once(&init_once, init_table);
    pthread_sigmask(SIG_BLOCK, set, oldmask);
    pthread_mutex_lock(&sig_lock);
}

static void unlock_table(const sigset_t *oldmask)
{
    pthread_mutex_unlock(&sig_lock);
    pthread_sigmask(SIG_SETMASK, oldmask, NULL);
}

static bool subscribable(int signo)
{
    if (signo <= 0 || signo >= NSIG)
        return false;
    switch (signo) {
    case SIGKILL:
    case SIGSTOP:
    /* Synchronous faults: the faulting instruction runs again as soon as
     * a handler returns, so they cannot wait for ordinary code. */
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGSYS:
        return false;
    default:
        return signo < KERNEL_SIGRTMIN || signo >= SIGRTMIN;
    }
}

/* Put weft's handler in place for signo. prev[signo] must hold the
 * disposition it replaces. sig_lock held. */
static int install_locked(int signo)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* Subscribing to SIGCHLD must not switch auto-reap mode off: keep the
     * kernel reaping (SA_NOCLDWAIT) if it did before. Linux still sends
     * SIGCHLD with SA_NOCLDWAIT, so the subscriber hears of each child. */
    if (signo == SIGCHLD && (prev[signo].sa_handler == SIG_IGN ||
                             (prev[signo].sa_flags & SA_NOCLDWAIT)))
        sa.sa_flags |= SA_NOCLDWAIT;
    return sigaction(signo, &sa, NULL) < 0 ? -errno : 0;
}

/* Remove wfd from signo's row; restore the old disposition if it was the
 * last subscriber. The caller waits for busy[signo] before closing wfd.
 * sig_lock held. */
static void remove_locked(int signo, int wfd)
{
    int i;

    for (i = 0; i < SLOTS; i++) {
        if (atomic_load(&subs[signo][i]) == wfd + 1) {
            atomic_store(&subs[signo][i], 0);
            if (--nsubs[signo] == 0)
                sigaction(signo, &prev[signo], NULL);
            return;
        }
    }
}

/* Add wfd to signo's row, installing the handler for the first
 * subscriber. sig_lock held. */
static int add_locked(int signo, int wfd)
{
    int i, rc, expected;

    for (i = 0; i < SLOTS; i++) {
        expected = 0;
        /* Only writers store, under the lock; CAS just reads clearly. */
        if (atomic_compare_exchange_strong(&subs[signo][i], &expected, wfd + 1))
            break;
    }
    if (i == SLOTS)
        return -EMFILE;
    if (nsubs[signo] == 0) {
        /* Query first: installing depends on what was there (SIGCHLD). */
        if (sigaction(signo, NULL, &prev[signo]) < 0)
            rc = -errno;
        else
            rc = install_locked(signo);
        if (rc < 0) {
            atomic_store(&subs[signo][i], 0);
            return rc;
        }
    }
    nsubs[signo]++;
    return 0;
}

/* Wait until no handler run can still hold a write fd of signo's row
 * loaded (see the top of the file). */
static void wait_handlers(int signo)
{
    while (atomic_load(&busy[signo]) != 0)
        sched_yield();
}

static int subscribe(weft_signals *s)
{
    sigset_t oldmask;
    int signo, undo, rc = 0;

    lock_table(&s->set, &oldmask);
    for (signo = 1; signo < NSIG; signo++) {
        if (sigismember(&s->set, signo) != 1)
            continue;
        rc = add_locked(signo, s->wfd);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        /* All or nothing: take back the signals added before signo. */
        for (undo = 1; undo < signo; undo++)
            if (sigismember(&s->set, undo) == 1)
                remove_locked(undo, s->wfd);
    }
    unlock_table(&oldmask);
    if (rc < 0)
        for (undo = 1; undo < signo; undo++)
            if (sigismember(&s->set, undo) == 1)
                wait_handlers(undo);
    return rc;
}

static void unsubscribe(weft_signals *s)
{
    sigset_t oldmask;
    int signo;

    lock_table(&s->set, &oldmask);
    for (signo = 1; signo < NSIG; signo++)
        if (sigismember(&s->set, signo) == 1)
            remove_locked(signo, s->wfd);
    unlock_table(&oldmask);
    for (signo = 1; signo < NSIG; signo++)
        if (sigismember(&s->set, signo) == 1)
            wait_handlers(signo);
}

/* ---- Subscriptions ---------------------------------------------------- */

int weft_signals_open(weft_signals **out, const int *signos, size_t n)
{
    weft_signals *s;
    sigset_t set;
    int fds[2], rc;
    size_t i;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!signos || n == 0)
        return -EINVAL;
    sigemptyset(&set);
    for (i = 0; i < n; i++) {
        if (!subscribable(signos[i]))
            return -EINVAL;
        sigaddset(&set, signos[i]); /* a repeated signal counts once */
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    /* Non-blocking at both ends: the handler must never wait on a full
     * pipe, and readers poll before they read. */
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = -errno;
        free(s);
        return rc;
    }
    s->rfd = fds[0];
    s->wfd = fds[1];
    s->set = set;
    s->owner = getpid();
    s->evfd = -1;
    rc = subscribe(s);
    if (rc < 0) {
        close(s->rfd);
        close(s->wfd);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int weft_signals_fd(const weft_signals *s)
{
    return s ? s->rfd : -EINVAL;
}

/* Take one queued record without waiting: 0, -EAGAIN, or -errno. */
static int read_one(weft_signals *s, weft_signal_info *info)
{
    ssize_t n;

    do
        n = read(s->rfd, info, sizeof *info);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof *info)
        return 0;
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return -EIO; /* cannot happen: every write is one whole record */
}

int weft_signals_read(weft_signals *s, weft_signal_info *info, int timeout_ms)
{
    struct pollfd pfd;
    weft_deadline deadline;
    int rc, ms;

    if (!s || !info)
        return -EINVAL;
    deadline = weft_deadline_in(timeout_ms);
    for (;;) {
        /* Another reader may take what poll() announced: read, then wait
         * only when nothing is there. */
        rc = read_one(s, info);
        if (rc != -EAGAIN)
            return rc;
        if (timeout_ms == 0)
            return -EAGAIN;
        ms = weft_deadline_remaining_ms(deadline);
        if (ms == 0)
            return -ETIMEDOUT;
        pfd.fd = s->rfd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* poll() is never restarted after a handler ran (SA_RESTART or
         * not); EINTR usually means our own handler just queued one. */
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            return -errno;
    }
}

int weft_signals_dispatch(weft_signals *s, weft_signal_cb cb, void *userdata,
                          int timeout_ms)
{
    weft_signal_info info;
    int rc, avail, count;
    size_t more;

    if (!s || !cb)
        return -EINVAL;
    rc = weft_signals_read(s, &info, timeout_ms);
    if (rc == -EAGAIN || rc == -ETIMEDOUT)
        return 0;
    if (rc < 0)
        return rc;
    /* Drain only what is queued now: under a flood of signals the pipe
     * would refill as fast as we read and dispatch would never return. */
    if (ioctl(s->rfd, FIONREAD, &avail) < 0 || avail < 0)
        avail = 0;
    more = (size_t)avail / sizeof info;
    cb(&info, userdata);
    count = 1;
    while (more-- > 0 && read_one(s, &info) == 0) {
        cb(&info, userdata);
        count++;
    }
    return count;
}

/* ---- The helper thread ------------------------------------------------ */

static void *helper_main(void *arg)
{
    weft_signals *s = arg;
    weft_signal_info info;
    struct pollfd pfd[2];

    pfd[0].fd = s->rfd;
    pfd[0].events = POLLIN;
    pfd[1].fd = s->evfd;
    pfd[1].events = POLLIN;
    while (!atomic_load(&s->stop)) {
        pfd[0].revents = pfd[1].revents = 0;
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR || errno == ENOMEM || errno == EAGAIN)
                continue;
            break; /* EFAULT/EINVAL: cannot happen with these fds */
        }
        /* Stop between records too, so close() is not held up by a flood
         * of signals refilling the pipe. */
        while (!atomic_load(&s->stop) && read_one(s, &info) == 0) {
            s->cb(&info, s->userdata);
            if (s->self_closed) {
                /* cb closed s: everything but the memory is released. */
                free(s);
                return NULL;
            }
        }
    }
    return NULL;
}

int weft_signals_start_thread(weft_signals *s, weft_signal_cb cb,
                              void *userdata)
{
    sigset_t all, oldmask;
    bool expected = false;
    int rc;

    if (!s || !cb)
        return -EINVAL;
    if (!atomic_compare_exchange_strong(&s->started, &expected, true))
        return WEFT_ESTARTED;
    s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->evfd < 0) {
        rc = -errno;
        atomic_store(&s->started, false);
        return rc;
    }
    s->cb = cb;
    s->userdata = userdata;
    /* The thread starts with all signals blocked (it inherits our mask),
     * so no delivery ever interrupts it or the callbacks it runs; they
     * reach it through the pipe like anybody else's. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &oldmask);
    rc = pthread_create(&s->thread, NULL, helper_main, s);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    if (rc != 0) {
        close(s->evfd);
        s->evfd = -1;
        atomic_store(&s->started, false);
        return -rc;
    }
    return 0;
}

void weft_signals_close(weft_signals *s)
{
    uint64_t one = 1;
    ssize_t n;
    bool on_helper = false;

    if (!s)
        return;
    /* In a forked child the helper thread does not exist: there is
     * nothing to stop or join, only the child's copies to release. */
    if (atomic_load(&s->started) && s->owner == getpid()) {
        if (pthread_equal(pthread_self(), s->thread)) {
            /* Called from cb: joining ourselves would deadlock. The
             * thread frees s once cb returns (see helper_main). */
            on_helper = true;
            pthread_detach(s->thread);
        } else {
            atomic_store(&s->stop, true);
            n = write(s->evfd, &one, sizeof one);
            (void)n;
            pthread_join(s->thread, NULL);
        }
    }
    unsubscribe(s);
    close(s->rfd);
    close(s->wfd);
    if (s->evfd >= 0)
        close(s->evfd);
    if (on_helper) {
        s->self_closed = true;
        return;
    }
    free(s);
}

/* ---- Process-wide calls ----------------------------------------------- */

int weft_signal_send(pid_t pid, int signo)
{
    if (signo < 0 || signo >= NSIG || pid <= 0)
        return -EINVAL;
    return kill(pid, signo) < 0 ? -errno : 0;
}

int weft_signal_alarm(int ms)
{
    struct itimerval it, old;
    long long left;

    if (ms < 0)
        return -EINVAL;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (ms % 1000) * 1000;
    if (setitimer(ITIMER_REAL, &it, &old) < 0)
        return -errno;
    /* Round up, so that an alarm with 0.3 ms left does not read "none". */
    left = (long long)old.it_value.tv_sec * 1000 +
           (old.it_value.tv_usec + 999) / 1000;
    return left > INT_MAX ? INT_MAX : (int)left;
}

int weft_signal_ignore_children(bool on)
{
    struct sigaction sa, saved;
    sigset_t chld, oldmask;
    int rc = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? SIG_IGN : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    lock_table(&chld, &oldmask);
    if (nsubs[SIGCHLD] > 0) {
        /* weft's handler stays while subscribed; the mode becomes what
         * close restores, and SA_NOCLDWAIT makes it effective now. */
        saved = prev[SIGCHLD];
        prev[SIGCHLD] = sa;
        rc = install_locked(SIGCHLD);
        if (rc < 0)
            prev[SIGCHLD] = saved;
    } else if (sigaction(SIGCHLD, &sa, NULL) < 0) {
        rc = -errno;
    }
    unlock_table(&oldmask);
    return rc;
}

const char *weft_signal_name(int signo)
{
    /* sigabbrev_np() (glibc 2.32+) knows only the standard signals. */
    static const char *const rt[] = {
        "RTMIN",    "RTMIN+1",  "RTMIN+2",  "RTMIN+3",  "RTMIN+4",  "RTMIN+5",
        "RTMIN+6",  "RTMIN+7",  "RTMIN+8",  "RTMIN+9",  "RTMIN+10", "RTMIN+11",
        "RTMIN+12", "RTMIN+13", "RTMIN+14", "RTMIN+15", "RTMIN+16", "RTMIN+17",
        "RTMIN+18", "RTMIN+19", "RTMIN+20", "RTMIN+21", "RTMIN+22", "RTMIN+23",
        "RTMIN+24", "RTMIN+25", "RTMIN+26", "RTMIN+27", "RTMIN+28", "RTMIN+29",
        "RTMIN+30", "RTMIN+31"};

    if (signo <= 0 || signo >= NSIG)
        return NULL;
    if (signo == SIGRTMAX)
        return "RTMAX";
    if (signo >= SIGRTMIN &&
        (size_t)(signo - SIGRTMIN) < sizeof rt / sizeof rt[0])
        return rt[signo - SIGRTMIN];
    return sigabbrev_np(signo);
}
