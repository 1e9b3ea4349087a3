/* echo_epoll.c - the "limit" contender of bench_server: a minimal
 * hand-written epoll echo server in plain C, no weft.
 *
 *   echo_epoll --listen HOST:PORT [--threads N]
 *
 * Prints "listening on ADDR" (the port the kernel chose, after port 0)
 * and echoes every byte back until SIGTERM or SIGINT, then closes
 * everything and exits 0.
 *
 * One thread (the default) runs one level-triggered epoll loop over the
 * listening socket and every connection: accept4 until EAGAIN; on a
 * readable connection one read into a shared 64 KiB buffer and one write
 * back. A write that comes up short (the peer is not reading) keeps the
 * rest in a per-connection buffer and waits for EPOLLOUT, reading nothing
 * more from that connection until it is sent: the least a correct echo
 * server does, and nothing more.
 *
 * --threads N runs N such loops, each with its own listening socket on
 * the same port (SO_REUSEPORT: the kernel spreads connections over them).
 * The default is one thread because it is the stronger contender on the
 * machines the benchmark runs on (two vCPUs): the load generator needs
 * one core, and a second loop only competes with it for the other
 * (bench/README.md gives the figures that decided it).
 *
 * Why level- rather than edge-triggered: with one read per readiness an
 * edge-triggered loop would have to drain every socket to EAGAIN (an
 * extra read that fails, per request); level-triggered lets a connection
 * with more input simply be reported again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE    (64 * 1024)
#define MAX_EVENTS  256
#define BACKLOG     128 /* the same as weft's and Python's */
#define MAX_THREADS 64

/* What a connection has not managed to write yet (NULL: nothing). */
struct pending {
    char *data;
    size_t off, len;
};

struct loop {
    int lfd;              /* this loop's listening socket */
    int epfd;             /* its epoll set */
    int stopfd;           /* the eventfd every loop watches: readable = stop */
    struct pending *pend; /* indexed by descriptor */
    size_t npend;
    pthread_t tid;
};

static char addr_text[INET6_ADDRSTRLEN + 16];

/* Parse "HOST:PORT" or "[V6]:PORT" into a socket address (numeric hosts
 * and names, via getaddrinfo). 0 or -1 with a message. */
static int parse_addr(const char *text, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(text, ':'), *h = text;
    size_t hlen;
    struct addrinfo hints, *res;
    int rc;

    if (colon == NULL) {
        fprintf(stderr, "echo_epoll: --listen %s: no port\n", text);
        return -1;
    }
    hlen = (size_t)(colon - text);
    if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
        h = text + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        fprintf(stderr, "echo_epoll: --listen %s: host too long\n", text);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(hlen > 0 ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "echo_epoll: --listen %s: %s\n", text,
                gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* A non-blocking listening socket on the address (SO_REUSEPORT when
 * reuseport): the descriptor, or -1 with a message. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len,
                     int reuseport)
{
    int one = 1;
    int fd =
        socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("echo_epoll: socket");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (reuseport &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)) {
        perror("echo_epoll: setsockopt");
        close(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(fd, BACKLOG) < 0) {
        perror("echo_epoll: bind/listen");
        close(fd);
        return -1;
    }
    return fd;
}

/* Room in the pending table for descriptor fd: 0 or -1. */
static int grow(struct loop *l, int fd)
{
    size_t n = l->npend ? l->npend : 1024;
    struct pending *p;

    if ((size_t)fd < l->npend)
        return 0;
    while (n <= (size_t)fd)
        n *= 2;
    p = realloc(l->pend, n * sizeof *p);
    if (p == NULL)
        return -1;
    memset(p + l->npend, 0, (n - l->npend) * sizeof *p);
    l->pend = p;
    l->npend = n;
    return 0;
}

static void drop(struct loop *l, int fd)
{
    free(l->pend[fd].data);
    l->pend[fd].data = NULL;
    close(fd); /* also leaves the epoll set */
}

static void accept_all(struct loop *l)
{
    struct epoll_event ev;
    int fd;

    for (;;) {
        fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("echo_epoll: accept4"); /* EMFILE...: retry later */
            return;
        }
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (grow(l, fd) < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            close(fd);
    }
}

/* Write what is pending on fd; when all of it went, listen for input
 * again. 0, or -1 when the connection is to be dropped. */
static int flush(struct loop *l, int fd)
{
    struct pending *p = &l->pend[fd];
    struct epoll_event ev;

    while (p->off < p->len) {
        ssize_t n = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        p->off += (size_t)n;
    }
    free(p->data);
    p->data = NULL;
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* One read, one write back; the rest of a short write waits for EPOLLOUT.
 * 0, or -1 when the connection is to be dropped (end of file, error). */
static int echo(struct loop *l, int fd, char *buf)
{
    struct pending *p = &l->pend[fd];
    struct epoll_event ev;
    ssize_t n, w;

    n = recv(fd, buf, BUF_SIZE, 0);
    if (n <= 0)
        return n < 0 && errno == EAGAIN ? 0 : -1;
    w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN)
        return -1;
    if (w < 0)
        w = 0;
    if (w == n)
        return 0;
    p->data = malloc((size_t)(n - w));
    if (p->data == NULL)
        return -1;
    memcpy(p->data, buf + w, (size_t)(n - w));
    p->off = 0;
    p->len = (size_t)(n - w);
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event evs[MAX_EVENTS];
    char *buf = malloc(BUF_SIZE);

    if (buf == NULL) {
        fprintf(stderr, "echo_epoll: out of memory\n");
        return (void *)1;
    }
    for (;;) {
        int n = epoll_wait(l->epfd, evs, MAX_EVENTS, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("echo_epoll: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd, rc;
            if (fd == l->stopfd)
                goto out;
            if (fd == l->lfd) {
                accept_all(l);
                continue;
            }
            if (l->pend[fd].data != NULL)
                rc = flush(l, fd);
            else
                rc = echo(l, fd, buf);
            if (rc < 0)
                drop(l, fd);
        }
    }
out:
    free(buf);
    return NULL;
}

#define USAGE "usage: echo_epoll --listen HOST:PORT [--threads N]"

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct sockaddr_storage ss;
    socklen_t sslen;
    const char *listen_text = NULL;
    struct loop loops[MAX_THREADS];
    struct epoll_event ev;
    sigset_t mask;
    char *end;
    long nthreads = 1;
    int c, sigfd, stopfd, rc = 0;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_text = optarg;
            break;
        case 't':
            errno = 0;
            nthreads = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || nthreads < 1 ||
                nthreads > MAX_THREADS) {
                fprintf(stderr, "echo_epoll: --threads: 1 to %d\n",
                        MAX_THREADS);
                return 2;
            }
            break;
        case 'h':
            printf("%s\n", USAGE);
            return 0;
        default:
            fprintf(stderr, "%s\n", USAGE);
            return 2;
        }
    }
    if (listen_text == NULL || optind < argc) {
        fprintf(stderr, "%s\n", USAGE);
        return 2;
    }
    if (parse_addr(listen_text, &ss, &sslen) < 0)
        return 2;

    /* SIGTERM and SIGINT arrive on a descriptor; every thread inherits
     * the blocked mask. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
    stopfd = eventfd(0, EFD_CLOEXEC);
    if (sigfd < 0 || stopfd < 0) {
        perror("echo_epoll: signalfd/eventfd");
        return 1;
    }

    memset(loops, 0, sizeof loops);
    for (long i = 0; i < nthreads; i++) {
        struct loop *l = &loops[i];
        l->lfd = listen_on(&ss, sslen, nthreads > 1);
        if (l->lfd < 0)
            return 1;
        if (i == 0) {
            /* Port 0: the others listen on the port the kernel chose. */
            sslen = sizeof ss;
            getsockname(l->lfd, (struct sockaddr *)&ss, &sslen);
        }
        l->stopfd = stopfd;
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
            perror("echo_epoll: epoll_create1");
            return 1;
        }
        ev.events = EPOLLIN;
        ev.data.fd = l->lfd;
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->lfd, &ev);
        ev.data.fd = stopfd;
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, stopfd, &ev);
    }

    {
        char host[INET6_ADDRSTRLEN];
        const void *a;
        int port;
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            a = &s6->sin6_addr;
            port = ntohs(s6->sin6_port);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            a = &s4->sin_addr;
            port = ntohs(s4->sin_port);
        }
        inet_ntop(ss.ss_family, a, host, sizeof host);
        snprintf(addr_text, sizeof addr_text,
                 ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
    }
    printf("listening on %s\n", addr_text);
    fflush(stdout);

    for (long i = 0; i < nthreads; i++)
        if (pthread_create(&loops[i].tid, NULL, loop_main, &loops[i]) != 0) {
            fprintf(stderr, "echo_epoll: cannot start thread %ld\n", i);
            return 1;
        }

    /* Wait for a signal, then tell every loop to stop. */
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sigfd, &si, sizeof si);
        if (n == (ssize_t)sizeof si)
            break;
        if (n < 0 && errno != EINTR) {
            perror("echo_epoll: read signalfd");
            rc = 1;
            break;
        }
    }
    {
        uint64_t one = 1;
        if (write(stopfd, &one, sizeof one) < 0)
            perror("echo_epoll: write eventfd");
    }
    for (long i = 0; i < nthreads; i++) {
        struct loop *l = &loops[i];
        void *ret;
        pthread_join(l->tid, &ret);
        if (ret != NULL)
            rc = 1;
        for (size_t fd = 0; fd < l->npend; fd++)
            if (l->pend[fd].data != NULL)
                free(l->pend[fd].data);
        free(l->pend);
        close(l->epfd);
        close(l->lfd);
    }
    /* Connections still open are closed by the exit. */
    close(stopfd);
    close(sigfd);
    return rc;
}
