/* weft/server.h - TCP and UDP servers in six concurrency models: Python's
 * socketserver (TCPServer, ForkingMixIn, ThreadingMixIn...) for C, where
 * the model is one option.
 *
 * Model
 *   You write a handler: for a stream server (TCP or unix) it is called
 *   once per connection and talks to the client through the weft_request
 *   it gets; for a datagram server (UDP) it is called once per datagram.
 *   The server listens on one or more addresses and runs the handler in
 *   the model chosen at creation, named the same in the API, in --model
 *   options and in the docs:
 *
 *   serial      one client at a time, in the thread that runs the server
 *               (socketserver.TCPServer). Others wait in the kernel's
 *               backlog: the model's lesson, so max_conns does not apply.
 *   fork        a process per connection (ForkingMixIn).
 *   thread      a thread per connection (ThreadingMixIn).
 *   prefork     N worker processes started up front; the server accepts
 *               and passes each connection to an idle worker (SCM_RIGHTS).
 *   threadpool  N threads (a weft thread pool) take connections in turn.
 *               In both, a worker holds its connection until the handler
 *               returns: at most N clients are served at once, the others
 *               wait their turn (counted in max_conns).
 *   coroutine   N threads, each a coroutine scheduler (weft/co.h) with a
 *               coroutine per connection: the gevent server, on every core.
 *
 *   Connections beyond max_conns (live plus waiting for a worker) are
 *   accepted, sent the refusal bytes and closed: a clear answer, never a
 *   hang. Datagram servers have no connections; in fork and thread models
 *   max_conns bounds the datagrams being handled at once (excess ones are
 *   dropped and logged, as UDP drops them under load anyway).
 *
 *   Timeouts. The idle timeout bounds the wait for a client's next request
 *   (weft_request_wait, weft_request_recv); the I/O timeout bounds each
 *   transfer within a request (weft_request_read, read_exact, write_all,
 *   and what the handler passes to weft/frame.h). A client that connects
 *   and never speaks is dropped after the idle timeout.
 *
 *   Graceful shutdown, on SIGINT or SIGTERM (unless opts.no_signals) or
 *   weft_server_stop(): the server stops accepting and closes its
 *   listening sockets; handlers waiting for a next request get
 *   -ESHUTDOWN at once; the others have opts.grace_ms to finish. Then
 *   every remaining connection is shut down (its reads see end of file,
 *   its writes fail), handler coroutines are cancelled and worker
 *   processes killed. weft_server_run returns when all are gone. Threads
 *   cannot be killed: a thread handler that ignores its socket keeps
 *   weft_server_run waiting until it returns. No zombie and no
 *   descriptor is left behind.
 *
 *   A handler that crashes (a fault, abort) in a fork or prefork model
 *   ends only its own process: the connection closes, the crash is logged
 *   (weft_log_set) and a prefork worker is replaced. In the thread,
 *   threadpool, coroutine and serial models the handler runs in the
 *   server's process, so a crash ends the server, as it would in Python.
 *
 *   Logging goes through weft_log_set() (core.h): refusals, handler
 *   crashes and accept errors at WEFT_LOG_WARN, start and stop at INFO.
 *
 * Threads and fork
 *   weft_server_stop may be called from any thread, a handler, or a
 *   signal handler (it writes to an eventfd). weft_request functions are
 *   for the handler that got the request. fork and prefork use
 *   WEFT_START_FORK: start them before your program runs other threads
 *   (weft/proc.h explains why); a child closes the listening sockets.
 */
#ifndef WEFT_SERVER_H
#define WEFT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <weft/core.h>
#include <weft/net.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weft_server_model {
    WEFT_MODEL_SERIAL = 0,
    WEFT_MODEL_FORK,
    WEFT_MODEL_THREAD,
    WEFT_MODEL_PREFORK,
    WEFT_MODEL_THREADPOOL,
    WEFT_MODEL_COROUTINE
} weft_server_model;

#define WEFT_MODEL_COUNT 6

typedef enum weft_server_kind {
    WEFT_SERVER_STREAM = 0, /* TCP or unix stream: a handler per connection */
    WEFT_SERVER_DGRAM = 1   /* UDP: a handler per datagram */
} weft_server_kind;

typedef struct weft_server weft_server;
typedef struct weft_request weft_request;

/* The handler: one call per connection (stream) or datagram (dgram). The
 * framework closes the connection when it returns.
 *
 * In the coroutine model the handler is a coroutine: it may spawn
 * coroutines of its own, but they must be finished before it returns
 * (the connection is closed then, and a forced shutdown cancels only the
 * handler). Its stack is opts.stack_size (64 KiB by default): keep big
 * buffers off it. With workers = 1 every handler runs on one thread, so
 * state they share needs no lock. */
typedef void (*weft_server_handler)(weft_request *req, void *arg);

/* Defaults (0 in an option field means the default; < 0 means none). */
#define WEFT_SERVER_MAX_CONNS_DEFAULT 1024
#define WEFT_SERVER_IDLE_DEFAULT_MS   300000
#define WEFT_SERVER_IO_DEFAULT_MS     30000
#define WEFT_SERVER_GRACE_DEFAULT_MS  5000
#define WEFT_SERVER_MAX_DGRAM         65507

typedef struct weft_server_opts {
    const char *const *listen; /* addresses, as weft_addr_parse reads */
    size_t n_listen;
    const int *listen_fds; /* sockets already listening or bound (for */
    size_t n_listen_fds;   /* example from systemd); they are adopted */
    weft_server_kind kind;
    weft_server_model model;
    weft_server_handler handler; /* required */
    void *arg;                   /* passed to the handler */
    int workers;         /* prefork, threadpool, coroutine: 0 = CPU count (x5
                          * for threadpool, as ThreadPoolExecutor) */
    int max_conns;       /* 0 = WEFT_SERVER_MAX_CONNS_DEFAULT */
    int idle_timeout_ms; /* 0 = default; < 0 = wait forever */
    int io_timeout_ms;   /* 0 = default; < 0 = wait forever */
    int grace_ms;        /* 0 = default; < 0 = wait forever */
    int backlog;         /* 0 = 128 */
    const void *refusal; /* sent to a connection over max_conns; NULL: */
    size_t refusal_len;  /* "ERR busy: too many connections\r\n" */
    size_t stack_size;   /* coroutine model: 0 = WEFT_CO_STACK_DEFAULT */
    bool no_signals;     /* do not stop on SIGINT/SIGTERM */
} weft_server_opts;

/* Its name ("serial", "fork", "thread", "prefork", "threadpool",
 * "coroutine") or NULL for an invalid value. */
WEFT_API const char *weft_server_model_name(weft_server_model m);
/* The model named name: 0, or -EINVAL for a name not in the list above. */
WEFT_API int weft_server_model_parse(const char *name, weft_server_model *out);

/* Create a server and bind/listen on its addresses at once, so a bad
 * address or a port in use fails here, before anything runs. Unless
 * opts.no_signals, SIGINT and SIGTERM are subscribed to from here until
 * destroy (weft/signal.h): one sent between create and run is acted on
 * when run starts. Errors:
 * -EINVAL (no handler, no address, an invalid model or option; an
 * address that does not parse), -EADDRINUSE, -EACCES, -ENOENT (a name
 * that does not resolve), -EMFILE, -ENOMEM. */
WEFT_API int weft_server_create(weft_server **out,
                                const weft_server_opts *opts);
/* How many sockets it listens on (0 for NULL), and the address of the
 * i-th (after port 0: the port the kernel chose): 0, -EINVAL, -ERANGE. */
WEFT_API size_t weft_server_count(const weft_server *s);
WEFT_API int weft_server_addr(const weft_server *s, size_t i, weft_addr *out);

/* Serve until stopped (see above). 0 after a graceful stop; -EINVAL;
 * WEFT_ESTARTED if it ran before; -errno when it could not start (no
 * threads, no processes, no memory). */
WEFT_API int weft_server_run(weft_server *s);
/* Ask a running server to stop gracefully. Async-signal-safe. 0. */
WEFT_API int weft_server_stop(weft_server *s);
/* Connections (or datagrams) being handled right now, and handled so far
 * (refusals excluded). */
WEFT_API long weft_server_active(const weft_server *s);
WEFT_API long weft_server_served(const weft_server *s);
/* Close everything and release. The server must not be running. NULL:
 * no-op. */
WEFT_API void weft_server_destroy(weft_server *s);

/* ---- inside a handler ---------------------------------------------------- */

/* The connected socket (stream) or the server's socket (dgram). Do not
 * close it: the framework does. */
WEFT_API int weft_request_fd(const weft_request *r);
/* The client's address. */
WEFT_API const weft_addr *weft_request_peer(const weft_request *r);
/* The model in use, and the timeouts (ms, < 0 none), to pass on to calls
 * such as weft_frame_recv. */
WEFT_API weft_server_model weft_request_model(const weft_request *r);
WEFT_API int weft_request_io_timeout(const weft_request *r);
WEFT_API int weft_request_idle_timeout(const weft_request *r);
/* 1 once the server is stopping (finish up), else 0. */
WEFT_API int weft_request_stopping(const weft_request *r);
/* A descriptor that becomes readable when the server starts to stop, for
 * a handler that waits on descriptors of its own (poll it alongside
 * them; in a coroutine, weft_co_wait_fd). Never read or close it. */
WEFT_API int weft_request_stop_fd(const weft_request *r);

/* Wait, up to the idle timeout, for the client's next request: 0 when
 * input is ready (or the peer closed: the next read says so);
 * -ESHUTDOWN the server is stopping; -ETIMEDOUT idle too long. */
WEFT_API int weft_request_wait(weft_request *r);
/* weft_request_wait on another descriptor: for a handler that puts a
 * layer between the client and its protocol (weftd's TLS runs the
 * protocol over one end of a socket pair) and waits for the next request
 * on that layer's end. The same idle timeout and stop. */
WEFT_API int weft_request_wait_fd(weft_request *r, int fd);
/* Wait as weft_request_wait, then read what is there (up to cap): the
 * count, 0 at end of file, -ESHUTDOWN, -ETIMEDOUT, -ECONNRESET... */
WEFT_API ssize_t weft_request_recv(weft_request *r, void *buf, size_t cap);
/* Read some bytes within the I/O timeout: the count, 0 at end of file,
 * -ETIMEDOUT, -ECANCELED (forced shutdown), -errno. */
WEFT_API ssize_t weft_request_read(weft_request *r, void *buf, size_t cap);
/* weft_read_exact / weft_write_all with the I/O timeout. */
WEFT_API int weft_request_read_exact(weft_request *r, void *buf, size_t len);
WEFT_API int weft_request_write_all(weft_request *r, const void *buf,
                                    size_t len);

/* Datagram servers: the datagram, and sending one back to its sender. */
WEFT_API const void *weft_request_data(const weft_request *r, size_t *len);
WEFT_API ssize_t weft_request_reply(weft_request *r, const void *buf,
                                    size_t len);

#ifdef __cplusplus
}
#endif
#endif
