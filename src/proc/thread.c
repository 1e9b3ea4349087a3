/* thread.c - weft_thread: Python's threading.Thread on POSIX threads.
 *
 * Each handle carries a mutex and a condition variable (on CLOCK_MONOTONIC,
 * so a joiner's timeout is immune to wall-clock changes) guarding its state:
 * started, running (the thread has set itself up), finished (its function
 * returned). Joiners wait for "finished" on the condition variable, and the
 * first one to see it calls pthread_join() under the handle's lock, so the
 * thread is reaped exactly once however many threads join it; destroy()
 * reaps it too if nobody joined.
 *
 * The registry is the list of live weft threads (between setting itself up
 * and its function returning): weft_thread_count(), weft_thread_list() and
 * weft_exit() read it. A thread adds and removes itself, and only a live
 * thread is listed, so every listed handle is valid memory: a running
 * thread's handle cannot be destroyed (-EBUSY).
 *
 * Lock order: the registry lock and each handle's lock are leaves; neither
 * is ever taken while the other is held.
 * Fork: an atfork handler holds the registry lock across fork(), so the
 * child gets a consistent list; it empties the list and releases the lock.
 * Handles started before the fork record the pid that started them, so in
 * the child they turn inert without touching their locks, which a parent
 * thread may have held at the instant of fork.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weft/thread.h>

struct weft_thread {
    /* Set by create, read-only afterwards. */
    weft_thread_fn fn;
    void *arg;
    bool daemon;
    size_t stack_size;        /* 0 or a page multiple >= the minimum */
    pthread_mutex_t lock;     /* guards started .. tid */
    pthread_cond_t cond;      /* state changed; CLOCK_MONOTONIC */
    bool started;             /* pthread_create() succeeded */
    bool running;             /* the thread has listed itself */
    bool finished;            /* its function returned (or it unwound) */
    bool joined;              /* pthread_join() done */
    int ret;                  /* the function's result, once finished */
    pthread_t tid;            /* valid once started */
    pid_t owner;              /* process that started it; atomic access */
    pid_t native_id;          /* kernel tid, 0 before start; atomic */
    bool listed;              /* in the registry; under reg_lock */
    bool exiting;             /* in weft_exit(); under reg_lock */
    struct weft_thread *prev; /* registry links; under reg_lock */
    struct weft_thread *next;
    char name[]; /* NUL-terminated copy */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
/* A thread left the registry or entered weft_exit(). Only untimed waits
 * use it, so the default clock does. */
static pthread_cond_t reg_cond = PTHREAD_COND_INITIALIZER;
static weft_thread *reg_head;
static int reg_count;
static bool exit_waiting; /* some thread is in weft_exit() */
static bool exit_claimed; /* some thread is past weft_exit()'s wait */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_uint name_counter;

/* The weft thread running on this thread, NULL for the main thread and for
 * threads weft did not start. A fork child inherits the forking thread's
 * value, as Python's child keeps the forking thread's name. */
static _Thread_local weft_thread *current_thread;

/* ---- Registry and fork ------------------------------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&reg_lock);
}

/* Only the forking thread lives on in the child, so no listed thread runs
 * there. Unlink the entries (valid memory: copies of live handles) so a
 * stale link is never followed. The lock is released rather than
 * re-initialised: this thread holds it (atfork_prepare), unlocking is well
 * defined, and ThreadSanitizer would take a re-initialised lock for one
 * still held. The condition variable is re-initialised: a parent thread
 * may have been waiting on it, and nobody waits in the child yet. */
static void atfork_child(void)
{
    weft_thread *t, *next;

    for (t = reg_head; t; t = next) {
        next = t->next;
        t->prev = t->next = NULL;
        t->listed = false;
    }
    reg_head = NULL;
    reg_count = 0;
    exit_waiting = false;
    exit_claimed = false;
    pthread_cond_init(&reg_cond, NULL);
    pthread_mutex_unlock(&reg_lock);
}

static void init_registry(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void list_locked(weft_thread *t)
{
    t->prev = NULL;
    t->next = reg_head;
    if (reg_head)
        reg_head->prev = t;
    reg_head = t;
    t->listed = true;
    reg_count++;
}

static void unlist_locked(weft_thread *t)
{
    /* Not listed in a fork child whose forking thread was this one. */
    if (!t->listed)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        reg_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->listed = false;
    reg_count--;
}

/* True if t was started by another process: we are a fork child holding a
 * copy of the parent's handle, whose thread does not exist here. */
static bool foreign(const weft_thread *t)
{
    pid_t owner = __atomic_load_n(&t->owner, __ATOMIC_ACQUIRE);

    return owner != 0 && owner != getpid();
}

/* ---- The thread itself ------------------------------------------------- */

/* The kernel keeps 15 bytes of a thread name (shown by ps, top, gdb). Cut
 * on a character boundary so a UTF-8 name does not end in a broken byte. */
static void set_kernel_name(const char *name)
{
    char buf[16];
    size_t n = strlen(name);

    if (n > sizeof buf - 1) {
        n = sizeof buf - 1;
        while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(buf, name, n);
    buf[n] = '\0';
    /* Cosmetic only: a failure changes nothing the program can see. */
    pthread_setname_np(pthread_self(), buf);
}

static void thread_finish(weft_thread *t, int ret)
{
    bool process_ending;

    /* Leave the registry first: once joiners see "finished", the thread
     * must no longer count as live. */
    pthread_mutex_lock(&reg_lock);
    unlist_locked(t);
    process_ending = exit_waiting;
    pthread_cond_broadcast(&reg_cond);
    pthread_mutex_unlock(&reg_lock);
    /* In a fork child nobody can join this copy of the handle, and its
     * lock may have been held by a parent thread at the fork. */
    if (foreign(t))
        return;
    pthread_mutex_lock(&t->lock);
    /* weft_exit() waits for threads to end, not for their owners to join
     * them, and the owner may never get the chance before exit(). Detach
     * instead, which reaps the thread as surely as the join would have
     * (and keeps leak checkers quiet); joiners find it already joined. The
     * handle stays valid: after the unlock below this thread no longer
     * touches it. */
    if (process_ending && !t->joined) {
        pthread_detach(pthread_self());
        t->joined = true;
    }
    t->ret = ret;
    t->finished = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

/* The function called pthread_exit() or was cancelled: it never returned,
 * but the thread is over all the same, and joiners must not wait forever. */
static void thread_unwound(void *p)
{
    thread_finish(p, -ECANCELED);
}

static int run_function(weft_thread *t)
{
    int ret;

    pthread_cleanup_push(thread_unwound, t);
    ret = t->fn(t->arg);
    pthread_cleanup_pop(0);
    return ret;
}

static void *thread_main(void *p)
{
    weft_thread *t = p;

    current_thread = t;
    set_kernel_name(t->name);
    pthread_mutex_lock(&reg_lock);
    list_locked(t);
    pthread_mutex_unlock(&reg_lock);
    /* start() waits for this, so that when it returns the thread is
     * counted, listed and has its native id (Python's start() waits too). */
    pthread_mutex_lock(&t->lock);
    __atomic_store_n(&t->native_id, gettid(), __ATOMIC_RELEASE);
    t->running = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    thread_finish(t, run_function(t));
    return NULL;
}

/* ---- Lifecycle --------------------------------------------------------- */

int weft_thread_create(weft_thread **out, weft_thread_fn fn, void *arg,
                       const weft_thread_opts *opts)
{
    weft_thread_opts none = {0};
    char defname[32];
    const char *name;
    size_t namelen, stack = 0;
    pthread_condattr_t ca;
    weft_thread *t;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &none;
    if (!fn)
        return -EINVAL;
    if (opts->stack_size) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);

        if (opts->stack_size < (size_t)PTHREAD_STACK_MIN ||
            opts->stack_size > SIZE_MAX - page)
            return -EINVAL;
        /* POSIX lets pthread_attr_setstacksize() refuse sizes that are not
         * page multiples; glibc rounds anyway. */
        stack = (opts->stack_size + page - 1) / page * page;
    }
    if (opts->name) {
        name = opts->name;
    } else {
        snprintf(defname, sizeof defname, "Thread-%u",
                 atomic_fetch_add(&name_counter, 1) + 1);
        name = defname;
    }
    namelen = strlen(name);
    t = calloc(1, sizeof *t + namelen + 1);
    if (!t)
        return -ENOMEM;
    memcpy(t->name, name, namelen + 1);
    t->fn = fn;
    t->arg = arg;
    t->daemon = opts->daemon;
    t->stack_size = stack;
    rc = pthread_mutex_init(&t->lock, NULL);
    if (rc) {
        free(t);
        return -rc;
    }
    rc = pthread_condattr_init(&ca);
    if (rc == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        rc = pthread_cond_init(&t->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (rc) {
        pthread_mutex_destroy(&t->lock);
        free(t);
        return -rc;
    }
    *out = t;
    return 0;
}

int weft_thread_start(weft_thread *t)
{
    pthread_attr_t attr;
    int rc;

    if (!t)
        return -EINVAL;
    /* Started in the parent of this fork child (and locked, maybe). */
    if (foreign(t))
        return WEFT_ESTARTED;
    pthread_once(&init_once, init_registry);
    rc = pthread_attr_init(&attr);
    if (rc)
        return -rc;
    if (t->stack_size)
        rc = pthread_attr_setstacksize(&attr, t->stack_size);
    if (rc) {
        pthread_attr_destroy(&attr);
        return -rc;
    }
    pthread_mutex_lock(&t->lock);
    if (t->started) {
        rc = WEFT_ESTARTED;
    } else {
        /* Set before the thread exists, so it and everyone it hands the
         * handle to see it. */
        __atomic_store_n(&t->owner, getpid(), __ATOMIC_RELEASE);
        rc = pthread_create(&t->tid, &attr, thread_main, t);
        if (rc) {
            __atomic_store_n(&t->owner, 0, __ATOMIC_RELEASE);
            rc = -rc; /* EAGAIN: out of threads or memory */
        } else {
            t->started = true;
            while (!t->running)
                pthread_cond_wait(&t->cond, &t->lock);
        }
    }
    pthread_mutex_unlock(&t->lock);
    pthread_attr_destroy(&attr);
    return rc;
}

/* Reap the finished thread unless another joiner already did. Handle lock
 * held: that is what makes it exactly once. The thread has nothing left to
 * do but return, so this does not block for long. */
static void reap_locked(weft_thread *t)
{
    if (!t->joined) {
        pthread_join(t->tid, NULL);
        t->joined = true;
    }
}

int weft_thread_join(weft_thread *t, int timeout_ms)
{
    weft_deadline dl;
    struct timespec ts;
    int rc = 0;

    if (!t)
        return -EINVAL;
    if (foreign(t))
        return -ECHILD;
    dl = weft_deadline_in(timeout_ms);
    ts.tv_sec = dl / 1000000000;
    ts.tv_nsec = dl % 1000000000;
    pthread_mutex_lock(&t->lock);
    if (!t->started) {
        rc = WEFT_ENOTSTARTED;
    } else if (t == current_thread) {
        rc = -EDEADLK;
    } else {
        while (!t->finished) {
            if (timeout_ms == 0) {
                rc = -EAGAIN;
                break;
            }
            if (dl == WEFT_DEADLINE_NEVER) {
                pthread_cond_wait(&t->cond, &t->lock);
            } else if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) ==
                           ETIMEDOUT &&
                       !t->finished) {
                rc = -ETIMEDOUT;
                break;
            }
        }
        if (rc == 0)
            reap_locked(t);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int weft_thread_is_alive(weft_thread *t)
{
    int alive;

    if (!t || foreign(t))
        return 0;
    pthread_mutex_lock(&t->lock);
    alive = t->started && !t->finished;
    pthread_mutex_unlock(&t->lock);
    return alive;
}

int weft_thread_result(weft_thread *t, int *ret)
{
    int rc = 0;

    if (!t || !ret)
        return -EINVAL;
    if (foreign(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    if (!t->started)
        rc = WEFT_ENOTSTARTED;
    else if (!t->finished)
        rc = WEFT_ERUNNING;
    else
        *ret = t->ret;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

const char *weft_thread_name(const weft_thread *t)
{
    return t ? t->name : NULL;
}

bool weft_thread_daemon(const weft_thread *t)
{
    return t && t->daemon;
}

pid_t weft_thread_native_id(const weft_thread *t)
{
    return t ? __atomic_load_n(&t->native_id, __ATOMIC_ACQUIRE) : 0;
}

int weft_thread_destroy(weft_thread *t)
{
    if (!t)
        return 0;
    /* A fork child's copy of a started handle names no thread of ours:
     * there is nothing to join, only memory to free. */
    if (!foreign(t)) {
        pthread_mutex_lock(&t->lock);
        if (t->started && !t->finished) {
            pthread_mutex_unlock(&t->lock);
            return -EBUSY;
        }
        if (t->started)
            reap_locked(t);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return 0;
}

/* ---- The current thread and the live ones ------------------------------ */

const char *weft_thread_current_name(void)
{
    if (current_thread)
        return current_thread->name;
    /* Asked each time rather than cached: after fork() the forking thread
     * is the child's main thread. */
    return gettid() == getpid() ? "MainThread" : "Dummy";
}

weft_thread *weft_thread_current(void)
{
    return current_thread;
}

int weft_thread_count(void)
{
    int n;

    pthread_mutex_lock(&reg_lock);
    n = reg_count + 1;
    pthread_mutex_unlock(&reg_lock);
    return n;
}

int weft_thread_list(weft_thread **out, size_t cap)
{
    weft_thread *t;
    size_t n = 0;

    if (!out && cap)
        return -EINVAL;
    pthread_mutex_lock(&reg_lock);
    for (t = reg_head; t; t = t->next) {
        if (n < cap)
            out[n] = t;
        n++;
    }
    pthread_mutex_unlock(&reg_lock);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Is there a live thread weft_exit() must still wait for? */
static bool must_wait_locked(void)
{
    const weft_thread *t;

    for (t = reg_head; t; t = t->next)
        if (!t->daemon && !t->exiting)
            return true;
    return false;
}

void weft_exit(int status)
{
    weft_thread *self = current_thread;
    bool first;

    pthread_mutex_lock(&reg_lock);
    exit_waiting = true;
    /* A weft thread calling weft_exit() is not waited for, by itself or by
     * anybody else in weft_exit(): two such threads would otherwise wait
     * for each other forever. */
    if (self && self->listed) {
        self->exiting = true;
        pthread_cond_broadcast(&reg_cond);
    }
    while (must_wait_locked())
        pthread_cond_wait(&reg_cond, &reg_lock);
    first = !exit_claimed;
    exit_claimed = true;
    pthread_mutex_unlock(&reg_lock);
    /* exit() must run once: a second caller sleeps until the first ends
     * the process. */
    if (!first)
        for (;;)
            pause();
    exit(status);
}
