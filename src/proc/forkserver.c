/* forkserver.c - a single-threaded helper that forks children on request,
 * so that a program that runs threads can still start processes safely.
 *
 * weft_forkserver_start() forks the helper while the program is still
 * single-threaded. Two SOCK_SEQPACKET socket pairs join them:
 *
 *   requests: program -> server  {fn, daemon, name, argument bytes}
 *             server -> program  {pid or -errno} + the child's pidfd
 *                                (SCM_RIGHTS), one reply per request,
 *                                under req_lock so replies never mix;
 *   statuses: server -> program  {pid, exitcode} for every child that
 *             exits; read by the reaper thread (child.c).
 *
 * The server dies with the program (PR_SET_PDEATHSIG) and exits when the
 * request socket closes. It reaps its own children (they are all weft
 * children: it runs no other code), which is why their status has to be
 * reported rather than waited for. A child's function pointer is valid in
 * the server because the server is a fork of the same program image.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log_int.h"
#include "core/sanitizer_int.h"
#include "proc/child_int.h"
#include "proc/pidfd_int.h"
#include "proc/process_int.h"

#include <weft/proc.h>

/* Largest argument that travels to the fork server: one datagram. */
#define FS_MAX_ARG  (64 * 1024)
#define FS_MAX_NAME 255

struct fs_request {
    uint64_t fn; /* weft_process_fn, as an integer */
    uint32_t daemon;
    uint32_t name_len;
    uint32_t arg_len; /* name then argument bytes follow */
};

struct fs_reply {
    int32_t pid; /* > 0, or -errno */
};

struct fs_status {
    int32_t pid;
    int32_t exitcode;
};

/* start_lock serialises start and stop (and is not held across anything a
 * request does); req_lock guards the descriptors and pairs each request
 * with its reply. Order: start_lock, req_lock, then child.c's locks. */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static int req_fd = -1;    /* our end of the request pair */
static int status_fd = -1; /* our end of the status pair */
static pid_t server_pid;
static struct weft__child server_child; /* the server itself, reaped too */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- The server --------------------------------------------------------- */

static ssize_t send_status(int fd, pid_t pid, int exitcode)
{
    struct fs_status st = {pid, exitcode};
    ssize_t n;

    do
        n = send(fd, &st, sizeof st, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

static void send_reply(int fd, int32_t pid_or_err, int pidfd)
{
    struct fs_reply r = {pid_or_err};
    struct iovec iov = {&r, sizeof r};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg;
    struct cmsghdr *cm;

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (pidfd >= 0) {
        memset(&u, 0, sizeof u);
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof u.buf;
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &pidfd, sizeof(int));
    }
    while (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

static void server_spawn(int rfd, int sfd, int sigfd, const sigset_t *oldmask,
                         const unsigned char *msg, size_t len)
{
    struct fs_request rq;
    char name[FS_MAX_NAME + 1];
    pid_t me = getpid(), pid;
    int pidfd;

    if (len < sizeof rq) {
        send_reply(rfd, -EINVAL, -1);
        return;
    }
    memcpy(&rq, msg, sizeof rq);
    if (rq.name_len > FS_MAX_NAME || rq.arg_len > FS_MAX_ARG ||
        sizeof rq + rq.name_len + rq.arg_len != len || rq.fn == 0) {
        send_reply(rfd, -EINVAL, -1);
        return;
    }
    memcpy(name, msg + sizeof rq, rq.name_len);
    name[rq.name_len] = '\0';
    pid = fork();
    if (pid < 0) {
        send_reply(rfd, -errno, -1);
        return;
    }
    if (pid == 0) {
        void *arg = NULL;
        close(rfd);
        close(sfd);
        close(sigfd);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        if (rq.arg_len) {
            arg = malloc(rq.arg_len);
            if (!arg)
                _exit(255);
            memcpy(arg, msg + sizeof rq + rq.name_len, rq.arg_len);
        }
        weft__process_child_main((weft_process_fn)(uintptr_t)rq.fn, arg, name,
                                 rq.daemon != 0, me);
    }
    pidfd = weft__pidfd_open(pid);
    if (pidfd < 0) {
        int err = -errno;
        kill(pid, SIGKILL);
        send_reply(rfd, err, -1);
        return; /* reaped and reported like any other child */
    }
    send_reply(rfd, pid, pidfd);
    close(pidfd);
}

static void server_reap(int sfd)
{
    siginfo_t si;

    for (;;) {
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
            return;
        send_status(sfd, si.si_pid,
                    weft__exitcode_from(si.si_code, si.si_status));
    }
}

static void server_main(int rfd, int sfd, pid_t parent)
{
    unsigned char *msg;
    sigset_t chld, oldmask;
    struct pollfd pfd[2];
    int sigfd;
    ssize_t n;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    prctl(PR_SET_NAME, "weft-forkserver");
    weft__set_current_name("ForkServer");
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &oldmask);
    signal(SIGCHLD, SIG_DFL); /* not ignored: we want the statuses */
    sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    msg = malloc(sizeof(struct fs_request) + FS_MAX_NAME + FS_MAX_ARG);
    if (sigfd < 0 || !msg)
        _exit(1);
    pfd[0].fd = rfd;
    pfd[0].events = POLLIN;
    pfd[1].fd = sigfd;
    pfd[1].events = POLLIN;
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo ssi;
            while (read(sigfd, &ssi, sizeof ssi) > 0)
                ;
            server_reap(sfd);
        }
        if (pfd[0].revents & POLLIN) {
            n = recv(rfd, msg,
                     sizeof(struct fs_request) + FS_MAX_NAME + FS_MAX_ARG,
                     MSG_TRUNC);
            if (n == 0)
                break;
            if (n > 0)
                server_spawn(rfd, sfd, sigfd, &oldmask, msg, (size_t)n);
        } else if (pfd[0].revents & (POLLHUP | POLLERR)) {
            break;
        }
    }
    /* The program stopped us. Children we started go on; their statuses
     * can no longer be reported. */
    _exit(0);
}

/* ---- The program's side ------------------------------------------------- */

/* Runs on the reaper thread: record every status the server sent. */
static int on_status(int fd)
{
    struct fs_status st;
    ssize_t n;

    for (;;) {
        n = recv(fd, &st, sizeof st, MSG_DONTWAIT);
        if (n == (ssize_t)sizeof st) {
            weft__child_report(st.pid, st.exitcode);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        /* End of file or error: the server is gone. */
        weft__child_forkserver_gone();
        return -1;
    }
}

/* A forked child does not share its parent's fork server. */
static void fs_atfork_prepare(void)
{
    pthread_mutex_lock(&req_lock);
}

static void fs_atfork_parent(void)
{
    pthread_mutex_unlock(&req_lock);
}

static void fs_atfork_child(void)
{
    pthread_mutex_init(&start_lock, NULL);
    if (req_fd >= 0)
        close(req_fd);
    if (status_fd >= 0)
        close(status_fd);
    req_fd = status_fd = -1;
    server_pid = 0;
    pthread_mutex_unlock(&req_lock);
}

static void fs_init_atfork(void)
{
    pthread_atfork(fs_atfork_prepare, fs_atfork_parent, fs_atfork_child);
}

/* ThreadSanitizer runs a background thread of its own in every process. */
#define SANITIZER_THREADS WEFT__TSAN

/* Threads in this process, from /proc/self/status; -1 if unknown. */
static int thread_count(void)
{
    char line[128];
    FILE *f = fopen("/proc/self/status", "re");
    int n = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

int weft_forkserver_start(void)
{
    int rq[2], st[2], pidfd, rc, threads;
    pid_t parent = getpid(), pid;

    pthread_once(&atfork_once, fs_init_atfork);
    pthread_mutex_lock(&start_lock);
    if (weft_forkserver_pid() > 0) {
        pthread_mutex_unlock(&start_lock);
        return 0;
    }
    /* A thread just joined may still be counted for a moment: the kernel
     * wakes its joiner (clearing its tid) before it leaves the thread
     * group. Look again for up to ~20 ms before refusing. */
    for (int tries = 0;; tries++) {
        threads = thread_count();
        if (threads <= 1 + SANITIZER_THREADS + weft__reaper_running() ||
            tries == 20)
            break;
        weft_sleep_ms(1);
    }
    if (threads > 1 + SANITIZER_THREADS + weft__reaper_running()) {
        pthread_mutex_unlock(&start_lock);
        return -EDEADLK;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) < 0) {
        rc = -errno;
        pthread_mutex_unlock(&start_lock);
        return rc;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, st) < 0) {
        rc = -errno;
        close(rq[0]);
        close(rq[1]);
        pthread_mutex_unlock(&start_lock);
        return rc;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        goto fail;
    }
    if (pid == 0) {
        /* The atfork handlers already reset our copy of weft's state. */
        close(rq[0]);
        close(st[0]);
        server_main(rq[1], st[1], parent);
    }
    close(rq[1]);
    close(st[1]);
    rq[1] = st[1] = -1;
    pidfd = weft__pidfd_open(pid);
    if (pidfd < 0) {
        rc = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto fail;
    }
    rc = weft__child_add(&server_child, pid, pidfd, 0);
    if (rc < 0) {
        close(pidfd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto fail;
    }
    rc = weft__reaper_watch(st[0], on_status);
    if (rc < 0) {
        close(rq[0]); /* the server exits on end of file */
        weft__child_wait(&server_child, -1);
        weft__child_remove(&server_child);
        close(st[0]);
        pthread_mutex_unlock(&start_lock);
        return rc;
    }
    pthread_mutex_lock(&req_lock);
    req_fd = rq[0];
    status_fd = st[0];
    server_pid = pid;
    pthread_mutex_unlock(&req_lock);
    pthread_mutex_unlock(&start_lock);
    return 0;
fail:
    close(rq[0]);
    close(st[0]);
    if (rq[1] >= 0)
        close(rq[1]);
    if (st[1] >= 0)
        close(st[1]);
    pthread_mutex_unlock(&start_lock);
    return rc;
}

int weft_forkserver_stop(void)
{
    int sfd;

    pthread_mutex_lock(&start_lock);
    pthread_mutex_lock(&req_lock);
    if (req_fd < 0) {
        pthread_mutex_unlock(&req_lock);
        pthread_mutex_unlock(&start_lock);
        return 0;
    }
    close(req_fd); /* the server sees end of file and exits */
    req_fd = -1;
    sfd = status_fd;
    status_fd = -1;
    server_pid = 0;
    pthread_mutex_unlock(&req_lock);
    weft__child_wait(&server_child, -1);
    weft__child_remove(&server_child);
    /* Once the watch is off no callback runs; then read what the server
     * reported before it went, and let go. */
    weft__reaper_watch(-1, NULL);
    on_status(sfd);
    weft__child_forkserver_gone();
    close(sfd);
    pthread_mutex_unlock(&start_lock);
    return 0;
}

pid_t weft_forkserver_pid(void)
{
    pid_t pid;

    pthread_mutex_lock(&req_lock);
    pid = server_pid;
    pthread_mutex_unlock(&req_lock);
    return pid;
}

int weft__forkserver_spawn(weft_process *p)
{
    struct fs_request rq;
    struct fs_reply reply;
    struct iovec iov[3];
    struct msghdr msg;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct cmsghdr *cm;
    size_t namelen = strlen(p->name);
    int pidfd = -1, rc;
    ssize_t n;

    if (namelen > FS_MAX_NAME)
        namelen = FS_MAX_NAME;
    if (p->arg_len > FS_MAX_ARG)
        return -EMSGSIZE;
    rq.fn = (uint64_t)(uintptr_t)p->fn;
    rq.daemon = p->daemon;
    rq.name_len = (uint32_t)namelen;
    rq.arg_len = (uint32_t)p->arg_len;
    iov[0].iov_base = &rq;
    iov[0].iov_len = sizeof rq;
    iov[1].iov_base = p->name;
    iov[1].iov_len = namelen;
    iov[2].iov_base = p->arg_bytes;
    iov[2].iov_len = p->arg_len;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 3;

    pthread_mutex_lock(&req_lock);
    if (req_fd < 0) {
        pthread_mutex_unlock(&req_lock);
        return WEFT_ENOFORKSERVER;
    }
    do
        n = sendmsg(req_fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        rc =
            errno == EPIPE || errno == ECONNRESET ? WEFT_ENOFORKSERVER : -errno;
        pthread_mutex_unlock(&req_lock);
        return rc;
    }
    memset(&msg, 0, sizeof msg);
    iov[0].iov_base = &reply;
    iov[0].iov_len = sizeof reply;
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    do
        n = recvmsg(req_fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    pthread_mutex_unlock(&req_lock);
    if (n <= 0)
        return WEFT_ENOFORKSERVER;
    cm = CMSG_FIRSTHDR(&msg);
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&pidfd, CMSG_DATA(cm), sizeof(int));
    if (n != (ssize_t)sizeof reply || reply.pid <= 0 || pidfd < 0) {
        if (pidfd >= 0)
            close(pidfd);
        return n == (ssize_t)sizeof reply && reply.pid < 0 ? reply.pid
                                                           : -EPROTO;
    }
    rc = weft__child_add(&p->child, reply.pid, pidfd,
                         WEFT__CHILD_VIA_FORKSERVER | WEFT__CHILD_JOIN_AT_EXIT |
                             (p->daemon ? WEFT__CHILD_DAEMON : 0));
    if (rc < 0) {
        weft__pidfd_send_signal(pidfd, SIGKILL);
        close(pidfd);
    }
    return rc;
}
