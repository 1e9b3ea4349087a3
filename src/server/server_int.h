/* server_int.h - what the six model files share: the server, the request,
 * and the common steps (admit or refuse a connection, finish it, wait out
 * the grace period).
 */
#ifndef WEFT_SERVER_INT_H
#define WEFT_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/co.h>
#include <weft/server.h>
#include <weft/signal.h>

struct weft_request {
    weft_server *srv;
    int fd;
    weft_addr peer;
    const void *data; /* datagram servers: the datagram */
    size_t len;
    /* Thread models: the live list, for the forced shutdown. */
    struct weft_request *prev, *next;
    pthread_t thread; /* thread model: the handler's thread */
    /* Coroutine model: the handler's coroutine and whether it waits for a
     * next request (then the stop cancels it at once). */
    weft_co *co;
    struct co_sched *sched;
    bool idle;
};

/* In a shared mapping, so that prefork's datagram workers count too. */
struct weft__server_counters {
    atomic_long active;  /* admitted, not yet finished */
    atomic_long served;  /* finished */
    atomic_int stopping; /* 1 once weft_server_stop ran */
    atomic_int forcing;  /* 1 once the grace period ran out */
};

struct weft_server {
    weft_server_opts o; /* defaults resolved; listen/listen_fds cleared */
    int *fds;           /* listening (stream) or bound (dgram) sockets */
    weft_addr *addrs;
    size_t n;
    int stop_efd; /* eventfd, readable once stopping (and in
                   * every forked child, which inherits it) */
    struct weft__server_counters *ctr; /* shared with forked children */
    bool ran;
    char *refusal;
    size_t refusal_len;
    weft_signals *sigs; /* SIGINT/SIGTERM, unless no_signals */
    /* Thread models: live requests, and finished handler threads waiting
     * to be joined. active reaching 0 while stopping signals idle_cv. */
    pthread_mutex_t mu;
    pthread_cond_t idle_cv;
    struct weft_request *live;
    struct weft_request *done;
};

/* Model entry points: serve until the server stops, then return. */
int weft__serve_serial(weft_server *s);
int weft__serve_thread(weft_server *s);
int weft__serve_threadpool(weft_server *s);
int weft__serve_fork(weft_server *s);
int weft__serve_prefork(weft_server *s);
int weft__serve_coroutine(weft_server *s);

/* 1 if a connection may be admitted (active is counted up), else 0 (the
 * caller refuses it). */
bool weft__server_admit(weft_server *s);
/* Send the refusal and close fd. */
void weft__server_refuse(weft_server *s, int fd);
/* A connection or datagram is finished: count it, wake the grace wait. */
void weft__server_finish(weft_server *s);

/* Thread models: link r into / out of the live list. */
void weft__server_live_add(weft_server *s, struct weft_request *r);
void weft__server_live_remove(weft_server *s, struct weft_request *r);
/* shutdown(2) every live connection (the grace period is over). */
void weft__server_live_shutdown(weft_server *s);

/* Wait until stopping (the stop eventfd or a signal): the supervisor's
 * idle loop for the thread models. */
void weft__server_wait_stop(weft_server *s);
/* After the stop: wait up to the grace period for active to reach 0;
 * true if it did, false if time ran out (forcing is then set). */
bool weft__server_wait_grace(weft_server *s);

/* Run the handler on a connection or datagram. */
void weft__server_handle(weft_server *s, struct weft_request *r);
/* Read one datagram from fd into buf (blocking or yielding): its length
 * with *from set, or -errno (-EAGAIN: nothing, try again). */
ssize_t weft__server_recv_dgram(int fd, void *buf, weft_addr *from,
                                int timeout_ms);

/* Close every listening socket (stop accepting). */
void weft__server_close_listeners(weft_server *s);

#endif
