/* server.c - the server's life (create, run, stop, destroy), the request
 * calls handlers use, and the steps every model shares. The models
 * themselves live in serial.c, thread.c, fork.c and coroutine.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log_int.h"
#include "server/server_int.h"

static const char *const model_names[WEFT_MODEL_COUNT] = {
    "serial", "fork", "thread", "prefork", "threadpool", "coroutine"};

static const char default_refusal[] = "ERR busy: too many connections\r\n";

const char *weft_server_model_name(weft_server_model m)
{
    if ((unsigned)m >= WEFT_MODEL_COUNT)
        return NULL;
    return model_names[m];
}

int weft_server_model_parse(const char *name, weft_server_model *out)
{
    if (!name || !out)
        return -EINVAL;
    for (int i = 0; i < WEFT_MODEL_COUNT; i++) {
        if (strcmp(name, model_names[i]) == 0) {
            *out = (weft_server_model)i;
            return 0;
        }
    }
    return -EINVAL;
}

static int pick(int v, int def)
{
    return v == 0 ? def : v < 0 ? -1 : v;
}

static int resolve_opts(weft_server_opts *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    if (!o->handler || (unsigned)o->model >= WEFT_MODEL_COUNT ||
        (o->kind != WEFT_SERVER_STREAM && o->kind != WEFT_SERVER_DGRAM) ||
        o->workers < 0 || o->max_conns < 0 || o->backlog < 0 ||
        (o->n_listen && !o->listen) || (o->n_listen_fds && !o->listen_fds) ||
        o->n_listen + o->n_listen_fds == 0 || (o->refusal_len && !o->refusal))
        return -EINVAL;
    if (o->stack_size && o->stack_size < WEFT_CO_STACK_MIN)
        return -EINVAL;
    if (cpus < 1)
        cpus = 1;
    if (o->workers == 0)
        o->workers = (int)(o->model == WEFT_MODEL_THREADPOOL ? cpus * 5 : cpus);
    if (o->max_conns == 0)
        o->max_conns = WEFT_SERVER_MAX_CONNS_DEFAULT;
    o->idle_timeout_ms = pick(o->idle_timeout_ms, WEFT_SERVER_IDLE_DEFAULT_MS);
    o->io_timeout_ms = pick(o->io_timeout_ms, WEFT_SERVER_IO_DEFAULT_MS);
    o->grace_ms = pick(o->grace_ms, WEFT_SERVER_GRACE_DEFAULT_MS);
    return 0;
}

/* Adopt a socket handed over (systemd): it must be of the server's kind. */
static int adopt(weft_server *s, int fd, weft_addr *a)
{
    int type = 0;
    socklen_t len = sizeof type;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    if (type != (s->o.kind == WEFT_SERVER_DGRAM ? SOCK_DGRAM : SOCK_STREAM))
        return -EINVAL;
    return weft_addr_local(fd, a);
}

int weft_server_create(weft_server **out, const weft_server_opts *opts)
{
    weft_server *s;
    size_t n, i;
    int rc = 0;

    if (!out || !opts)
        return -EINVAL;
    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->o = *opts;
    s->stop_efd = -1;
    rc = resolve_opts(&s->o);
    if (rc < 0) {
        free(s);
        return rc;
    }
    n = opts->n_listen + opts->n_listen_fds;
    s->fds = malloc(n * sizeof *s->fds);
    s->addrs = calloc(n, sizeof *s->addrs);
    s->refusal_len =
        opts->refusal ? opts->refusal_len : sizeof default_refusal - 1;
    s->refusal = malloc(s->refusal_len + 1);
    if (!s->fds || !s->addrs || !s->refusal) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(s->refusal, opts->refusal ? opts->refusal : default_refusal,
           s->refusal_len);
    s->ctr = mmap(NULL, sizeof *s->ctr, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->ctr == MAP_FAILED) {
        s->ctr = NULL;
        rc = -ENOMEM;
        goto fail;
    }
    s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_efd < 0) {
        rc = -errno;
        goto fail;
    }
    for (i = 0; i < opts->n_listen; i++) {
        weft_addr a;
        int fd;
        rc = weft_addr_parse(&a, opts->listen[i]);
        if (rc < 0)
            goto fail;
        fd = s->o.kind == WEFT_SERVER_DGRAM ? weft_udp_bind(&a)
                                            : weft_listen(&a, s->o.backlog);
        if (fd < 0) {
            rc = fd;
            goto fail;
        }
        s->fds[s->n] = fd;
        rc = weft_addr_local(fd, &s->addrs[s->n]);
        s->n++;
        if (rc < 0)
            goto fail;
    }
    for (i = 0; i < opts->n_listen_fds; i++) {
        rc = adopt(s, opts->listen_fds[i], &s->addrs[s->n]);
        if (rc < 0)
            goto fail;
        s->fds[s->n++] = opts->listen_fds[i];
    }
    /* Subscribed from here on, so a SIGTERM sent as soon as the program
     * says it listens is queued, not fatal: run acts on it. */
    if (!s->o.no_signals) {
        static const int stop_signals[] = {SIGINT, SIGTERM};
        rc = weft_signals_open(&s->sigs, stop_signals, 2);
        if (rc < 0)
            goto fail;
    }
    s->o.listen = NULL;
    s->o.n_listen = 0;
    s->o.listen_fds = NULL;
    s->o.n_listen_fds = 0;
    pthread_mutex_init(&s->mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->idle_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    *out = s;
    return 0;

fail:
    /* Adopted descriptors stay the caller's on failure. */
    for (i = 0; i < s->n && i < opts->n_listen; i++)
        close(s->fds[i]);
    if (s->stop_efd >= 0)
        close(s->stop_efd);
    if (s->ctr)
        munmap(s->ctr, sizeof *s->ctr);
    free(s->fds);
    free(s->addrs);
    free(s->refusal);
    free(s);
    return rc;
}

size_t weft_server_count(const weft_server *s)
{
    return s ? s->n : 0;
}

int weft_server_addr(const weft_server *s, size_t i, weft_addr *out)
{
    if (!s || !out)
        return -EINVAL;
    if (i >= s->n)
        return -ERANGE;
    *out = s->addrs[i];
    return 0;
}

static void on_signal(const weft_signal_info *info, void *ud)
{
    weft_server *s = ud;
    weft__log(WEFT_LOG_INFO, "server: SIG%s, stopping",
              weft_signal_name(info->signo));
    weft_server_stop(s);
}

int weft_server_run(weft_server *s)
{
    int rc;

    if (!s)
        return -EINVAL;
    if (s->ran)
        return WEFT_ESTARTED;
    s->ran = true;
    if (s->sigs) {
        rc = weft_signals_start_thread(s->sigs, on_signal, s);
        if (rc < 0)
            return rc;
    }
    weft__log(WEFT_LOG_INFO, "server: %s model, %zu socket(s)",
              model_names[s->o.model], s->n);
    switch (s->o.model) {
    case WEFT_MODEL_SERIAL:
        rc = weft__serve_serial(s);
        break;
    case WEFT_MODEL_FORK:
        rc = weft__serve_fork(s);
        break;
    case WEFT_MODEL_THREAD:
        rc = weft__serve_thread(s);
        break;
    case WEFT_MODEL_PREFORK:
        rc = weft__serve_prefork(s);
        break;
    case WEFT_MODEL_THREADPOOL:
        rc = weft__serve_threadpool(s);
        break;
    default:
        rc = weft__serve_coroutine(s);
        break;
    }
    weft__server_close_listeners(s);
    weft__log(WEFT_LOG_INFO, "server: stopped after %ld request(s)",
              atomic_load(&s->ctr->served));
    return rc;
}

int weft_server_stop(weft_server *s)
{
    uint64_t one = 1;
    ssize_t w;

    if (!s)
        return -EINVAL;
    atomic_store(&s->ctr->stopping, 1);
    w = write(s->stop_efd, &one, sizeof one);
    (void)w; /* EAGAIN only if the counter is full: it is readable anyway */
    return 0;
}

long weft_server_active(const weft_server *s)
{
    return s ? atomic_load(&s->ctr->active) : 0;
}

long weft_server_served(const weft_server *s)
{
    return s ? atomic_load(&s->ctr->served) : 0;
}

void weft__server_close_listeners(weft_server *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->fds[i] >= 0)
            close(s->fds[i]);
        s->fds[i] = -1;
    }
}

void weft_server_destroy(weft_server *s)
{
    if (!s)
        return;
    weft__server_close_listeners(s);
    weft_signals_close(s->sigs);
    if (s->stop_efd >= 0)
        close(s->stop_efd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle_cv);
    munmap(s->ctr, sizeof *s->ctr);
    free(s->fds);
    free(s->addrs);
    free(s->refusal);
    free(s);
}

/* ---- steps the models share ---------------------------------------------- */

bool weft__server_admit(weft_server *s)
{
    long n = atomic_fetch_add(&s->ctr->active, 1);
    if (n < s->o.max_conns)
        return true;
    atomic_fetch_sub(&s->ctr->active, 1);
    return false;
}

void weft__server_refuse(weft_server *s, int fd)
{
    char drain[512];
    char peer[WEFT_ADDR_TEXT_MAX] = "?";
    weft_addr a;
    ssize_t w;

    if (weft_addr_peer(fd, &a) == 0)
        weft_addr_format(&a, peer, sizeof peer);
    weft__log(WEFT_LOG_WARN,
              "server: refused %s: at the limit of %d connection(s)", peer,
              s->o.max_conns);
    /* Best effort, never waiting: the refusal is short and the socket's
     * buffer empty. Reading what the client already sent lets close()
     * end with a FIN instead of a reset that could destroy the refusal. */
    w = send(fd, s->refusal, s->refusal_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
    shutdown(fd, SHUT_WR);
    while (recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0)
        ;
    close(fd);
}

void weft__server_finish(weft_server *s)
{
    atomic_fetch_add(&s->ctr->served, 1);
    if (atomic_fetch_sub(&s->ctr->active, 1) == 1 &&
        atomic_load(&s->ctr->stopping)) {
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->idle_cv);
        pthread_mutex_unlock(&s->mu);
    }
}

void weft__server_live_add(weft_server *s, struct weft_request *r)
{
    pthread_mutex_lock(&s->mu);
    r->prev = NULL;
    r->next = s->live;
    if (s->live)
        s->live->prev = r;
    s->live = r;
    pthread_mutex_unlock(&s->mu);
}

void weft__server_live_remove(weft_server *s, struct weft_request *r)
{
    pthread_mutex_lock(&s->mu);
    if (r->prev)
        r->prev->next = r->next;
    else
        s->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    pthread_mutex_unlock(&s->mu);
}

void weft__server_live_shutdown(weft_server *s)
{
    pthread_mutex_lock(&s->mu);
    for (struct weft_request *r = s->live; r; r = r->next)
        shutdown(r->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
}

void weft__server_wait_stop(weft_server *s)
{
    struct pollfd p = {s->stop_efd, POLLIN, 0};
    while (!atomic_load(&s->ctr->stopping) || poll(&p, 1, 0) == 0)
        poll(&p, 1, -1);
}

bool weft__server_wait_grace(weft_server *s)
{
    struct timespec until;
    bool ok = true;

    clock_gettime(CLOCK_MONOTONIC, &until);
    if (s->o.grace_ms >= 0) {
        until.tv_sec += s->o.grace_ms / 1000;
        until.tv_nsec += (long)(s->o.grace_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&s->ctr->active) > 0) {
        int rc = s->o.grace_ms < 0
                     ? pthread_cond_wait(&s->idle_cv, &s->mu)
                     : pthread_cond_timedwait(&s->idle_cv, &s->mu, &until);
        if (rc == ETIMEDOUT && atomic_load(&s->ctr->active) > 0) {
            ok = false;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        weft__log(WEFT_LOG_WARN,
                  "server: grace period over, closing %ld connection(s)",
                  atomic_load(&s->ctr->active));
        atomic_store(&s->ctr->forcing, 1);
    }
    return ok;
}

void weft__server_handle(weft_server *s, struct weft_request *r)
{
    s->o.handler(r, s->o.arg);
}

ssize_t weft__server_recv_dgram(int fd, void *buf, weft_addr *from,
                                int timeout_ms)
{
    ssize_t n;

    from->len = sizeof from->ss;
    n = weft_co_recvfrom(fd, buf, WEFT_SERVER_MAX_DGRAM, 0,
                         (struct sockaddr *)&from->ss, &from->len, timeout_ms);
    return n;
}

/* ---- inside a handler ---------------------------------------------------- */

int weft_request_fd(const weft_request *r)
{
    return r ? r->fd : -EINVAL;
}

const weft_addr *weft_request_peer(const weft_request *r)
{
    return r ? &r->peer : NULL;
}

weft_server_model weft_request_model(const weft_request *r)
{
    return r ? r->srv->o.model : WEFT_MODEL_SERIAL;
}

int weft_request_io_timeout(const weft_request *r)
{
    return r ? r->srv->o.io_timeout_ms : -1;
}

int weft_request_idle_timeout(const weft_request *r)
{
    return r ? r->srv->o.idle_timeout_ms : -1;
}

int weft_request_stop_fd(const weft_request *r)
{
    return r ? r->srv->stop_efd : -EINVAL;
}

int weft_request_stopping(const weft_request *r)
{
    return r && atomic_load(&r->srv->ctr->stopping) ? 1 : 0;
}

/* weft_request_wait on descriptor fd (the client's socket, or a
 * handler's own layer in front of it). */
static int wait_readable(weft_request *r, int fd)
{
    weft_server *s = r->srv;
    int rc;

    if (atomic_load(&s->ctr->stopping))
        return -ESHUTDOWN;
    if (r->co) {
        /* The scheduler's watcher cancels idle waiters when the stop
         * comes (coroutine.c): a coroutine cannot poll two descriptors. */
        r->idle = true;
        rc = weft_co_wait_fd(fd, WEFT_CO_READ, s->o.idle_timeout_ms);
        r->idle = false;
        if (rc > 0)
            return 0;
        if (rc == -ECANCELED && atomic_load(&s->ctr->stopping))
            return -ESHUTDOWN;
        return rc;
    }
    for (;;) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {s->stop_efd, POLLIN, 0}};
        rc = poll(p, 2, s->o.idle_timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue; /* a signal: the stop, if it is one, shows in p[1] */
        if (rc < 0)
            return -errno;
        if (rc == 0)
            return -ETIMEDOUT;
        if (p[1].revents)
            return -ESHUTDOWN;
        return 0;
    }
}

int weft_request_wait(weft_request *r)
{
    return r ? wait_readable(r, r->fd) : -EINVAL;
}

int weft_request_wait_fd(weft_request *r, int fd)
{
    return r && fd >= 0 ? wait_readable(r, fd) : -EINVAL;
}

ssize_t weft_request_recv(weft_request *r, void *buf, size_t cap)
{
    int rc = weft_request_wait(r);
    if (rc < 0)
        return rc;
    return weft_co_recv(r->fd, buf, cap, 0, r->srv->o.io_timeout_ms);
}

ssize_t weft_request_read(weft_request *r, void *buf, size_t cap)
{
    if (!r)
        return -EINVAL;
    return weft_co_read(r->fd, buf, cap, r->srv->o.io_timeout_ms);
}

int weft_request_read_exact(weft_request *r, void *buf, size_t len)
{
    if (!r)
        return -EINVAL;
    return weft_read_exact(r->fd, buf, len, NULL, r->srv->o.io_timeout_ms);
}

int weft_request_write_all(weft_request *r, const void *buf, size_t len)
{
    if (!r)
        return -EINVAL;
    return weft_write_all(r->fd, buf, len, NULL, r->srv->o.io_timeout_ms);
}

const void *weft_request_data(const weft_request *r, size_t *len)
{
    if (!r)
        return NULL;
    if (len)
        *len = r->len;
    return r->data;
}

ssize_t weft_request_reply(weft_request *r, const void *buf, size_t len)
{
    if (!r || r->srv->o.kind != WEFT_SERVER_DGRAM)
        return -EINVAL;
    return weft_udp_sendto(r->fd, buf, len, &r->peer, r->srv->o.io_timeout_ms);
}
