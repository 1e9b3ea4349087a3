/* loadgen.c - a load generator for echo-style TCP servers, built on weft's
 * coroutines: N connections, each sending a request of SIZE bytes and
 * reading SIZE bytes back, over and over; then requests/s and the latency
 * distribution (p50, p99, p99.9, max).
 *
 *   loadgen --server HOST:PORT [--conns N] [--size BYTES]
 *           [--requests R | --duration SECONDS] [--threads T]
 *           [--timeout MS] [--per-conn]
 *
 * Each of T threads runs one scheduler with N/T connections (coroutines);
 * a connection's requests go one after another (a round trip each).
 * --per-conn makes each of the N clients open a new connection for every
 * request instead - connect, send, read the whole reply, close, repeat
 * (one request per connection, as the course's servers are used) - and
 * each latency then counts from the start of the connect to the last
 * byte of the reply. --requests is then per client, and --conns the
 * number of clients at once. --duration takes fractions (0.5).
 *
 * The client closes first, so each of its connections leaves a TIME_WAIT
 * socket behind, holding its ephemeral port (one source address has about
 * 28,000; on loopback the kernel reuses one in TIME_WAIT only after a
 * second or two). That would cap one source address at about 14,000
 * connections/s to one server, whatever the server. So against a server
 * on 127.0.0.0/8, --per-conn connects from SOURCES loopback addresses in
 * turn (127.0.0.1, 127.0.0.2, ...: all local), each with its own ports,
 * as clients on many hosts would.
 *
 * The payload is upper-case letters and digits, so the reply of an echo
 * server and of the course's upper-case echo server is the request itself:
 * every reply is checked. A connection that fails (refused, reset, timed out,
 * wrong reply) counts one error and stops.
 *
 * Latencies go into a log-linear histogram (64 steps per power of two:
 * within 1.6% of the true value) so memory stays flat however long it
 * runs. Exit status: 0 when there was no error, 1 otherwise, 2 for bad
 * arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/weft.h>

#define SUB      64 /* histogram steps per power of two */
#define SOURCES  32 /* --per-conn: loopback source addresses (see above) */
#define NBUCKETS (64 * SUB)

struct hist {
    uint64_t n[NBUCKETS];
    uint64_t count, max;
};

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6; /* 2^6 == SUB */
    return (shift + 1) * SUB + (unsigned)((v >> shift) & (SUB - 1));
}

/* The smallest value that falls in bucket b. */
static uint64_t value_of(unsigned b)
{
    if (b < SUB)
        return b;
    unsigned shift = b / SUB - 1;
    return ((uint64_t)(SUB + b % SUB)) << shift;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->n[bucket_of(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->count);
    uint64_t seen = 0;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += h->n[b];
        if (seen > want)
            return value_of(b);
    }
    return h->max;
}

struct opts {
    weft_addr server;
    int conns, size, threads, timeout_ms;
    long requests;     /* per connection; 0 with a duration */
    double duration_s; /* 0 with a request count */
    bool per_conn;     /* a new connection for every request */
    bool spread;       /* per_conn to loopback: rotate source addresses */
};

struct worker {
    const struct opts *o;
    int conns;
    weft_deadline until;
    struct hist hist;
    uint64_t done, errors;
    unsigned next_source; /* spread: the next source address to use */
    char first_error[128];
};

static void note_error(struct worker *w, const char *what, int rc)
{
    if (w->errors++ == 0)
        snprintf(w->first_error, sizeof w->first_error, "%s: %s", what,
                 weft_strerror(rc));
}

/* One request on a fresh connection, timed from the start of the connect
 * to the last byte of the reply; the client closes after the reply. 0 or
 * a negative errno value, with what failed in *what. */
static int one_shot(struct worker *w, const char *req, char *rep,
                    const char **what)
{
    const struct opts *o = w->o;
    int64_t t0 = weft_now_ns();
    int fd, rc;

    if (o->spread) {
        /* Bind to the next source address; the port is picked at connect
         * time (IP_BIND_ADDRESS_NO_PORT), unique for the 4-tuple. */
        struct sockaddr_in src = {.sin_family = AF_INET};
        int one = 1;
        src.sin_addr.s_addr = htonl(0x7f000001u + w->next_source++ % SOURCES);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            *what = "socket";
            return -errno;
        }
        if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                       sizeof one) < 0 ||
            bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            rc = -errno;
            close(fd);
            *what = "bind";
            return rc;
        }
        rc = weft_co_connect(fd, (const struct sockaddr *)&o->server.ss,
                             o->server.len, o->timeout_ms);
        if (rc < 0) {
            close(fd);
            fd = rc;
        }
    } else {
        fd = weft_connect(&o->server, o->timeout_ms);
    }
    if (fd < 0) {
        *what = "connect";
        return fd;
    }
    *what = "round trip";
    rc = weft_write_all(fd, req, (size_t)o->size, NULL, o->timeout_ms);
    if (rc == 0)
        rc = weft_read_exact(fd, rep, (size_t)o->size, NULL, o->timeout_ms);
    if (rc == 0 && memcmp(req, rep, (size_t)o->size) != 0)
        rc = -EPROTO;
    if (rc == 0)
        hist_add(&w->hist, (uint64_t)(weft_now_ns() - t0));
    close(fd);
    return rc;
}

static int conn_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    char *req = malloc((size_t)o->size), *rep = malloc((size_t)o->size);
    if (req == NULL || rep == NULL) {
        note_error(w, "memory", -ENOMEM);
        goto out;
    }
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int i = 0; i < o->size; i++)
        req[i] = alphabet[i % (int)(sizeof alphabet - 1)];
    if (o->per_conn) {
        for (long r = 0; o->requests == 0 || r < o->requests; r++) {
            const char *what;
            if (o->requests == 0 && weft_deadline_expired(w->until))
                break;
            int rc = one_shot(w, req, rep, &what);
            if (rc < 0) {
                note_error(w, what, rc);
                break;
            }
            w->done++;
        }
        goto out;
    }
    int fd = weft_connect(&o->server, o->timeout_ms);
    if (fd < 0) {
        note_error(w, "connect", fd);
        goto out;
    }
    for (long r = 0; o->requests == 0 || r < o->requests; r++) {
        if (o->requests == 0 && weft_deadline_expired(w->until))
            break;
        int64_t t0 = weft_now_ns();
        int rc = weft_write_all(fd, req, (size_t)o->size, NULL, o->timeout_ms);
        if (rc == 0)
            rc = weft_read_exact(fd, rep, (size_t)o->size, NULL, o->timeout_ms);
        if (rc == 0 && memcmp(req, rep, (size_t)o->size) != 0)
            rc = -EPROTO;
        if (rc < 0) {
            note_error(w, "round trip", rc);
            break;
        }
        hist_add(&w->hist, (uint64_t)(weft_now_ns() - t0));
        w->done++;
    }
    close(fd);
out:
    free(req);
    free(rep);
    return 0;
}

static int sched_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->conns; i++)
        if (weft_co_spawn(NULL, conn_main, w, NULL) < 0)
            note_error(w, "spawn", -ENOMEM);
    return 0;
}

static void *thread_main(void *arg)
{
    weft_co_run(sched_main, arg, NULL, NULL);
    return NULL;
}

#define USAGE                                                                  \
    "usage: loadgen --server HOST:PORT [--conns N] [--size BYTES] "            \
    "[--requests R | --duration SECONDS] [--threads T] [--timeout MS] "        \
    "[--per-conn]"

/* Bad arguments: one line, and status 2. */
static int usage(const char *why)
{
    fprintf(stderr, "loadgen: %s (see --help)\n", why);
    return 2;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Seconds, with a fraction if wanted: 0.001 to 86400. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || !(v >= 0.001) || v > 86400)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"conns", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 'z'},
        {"requests", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"per-conn", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct opts o = {.conns = 10,
                     .size = 8,
                     .threads = 1,
                     .timeout_ms = 5000,
                     .requests = 1000};
    const char *server = NULL;
    bool have_duration = false, have_requests = false;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'c':
            if (parse_int(optarg, 1, 1000000, &v) < 0)
                return usage("--conns: a number from 1 to 1000000");
            o.conns = (int)v;
            break;
        case 'z':
            if (parse_int(optarg, 1, 16 << 20, &v) < 0)
                return usage("--size: a number of bytes from 1 to 16 MiB");
            o.size = (int)v;
            break;
        case 'r':
            if (parse_int(optarg, 1, LONG_MAX, &v) < 0)
                return usage("--requests: a positive number");
            o.requests = v;
            have_requests = true;
            break;
        case 'd':
            if (parse_seconds(optarg, &o.duration_s) < 0)
                return usage("--duration: seconds, from 0.001 to 86400");
            have_duration = true;
            break;
        case 'p':
            o.per_conn = true;
            break;
        case 't':
            if (parse_int(optarg, 1, 1024, &v) < 0)
                return usage("--threads: a number from 1 to 1024");
            o.threads = (int)v;
            break;
        case 'T':
            if (parse_int(optarg, 1, 3600000, &v) < 0)
                return usage("--timeout: milliseconds, from 1");
            o.timeout_ms = (int)v;
            break;
        case 'h':
            printf("loadgen: a load generator for echo-style TCP servers\n"
                   "%s\n",
                   USAGE);
            return 0;
        default:
            return usage("unknown option");
        }
    }
    if (optind < argc)
        return usage("unexpected argument");
    if (server == NULL)
        return usage("--server HOST:PORT is required");
    if (have_duration && have_requests)
        return usage("--requests and --duration exclude each other");
    if (have_duration)
        o.requests = 0;
    int rc = weft_addr_parse(&o.server, server);
    if (rc < 0) {
        fprintf(stderr, "loadgen: --server %s: %s\n", server,
                weft_strerror(rc));
        return 2;
    }
    if (o.threads > o.conns)
        o.threads = o.conns;
    if (o.per_conn && o.server.ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin =
            (const struct sockaddr_in *)&o.server.ss;
        o.spread = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }

    struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
    pthread_t *ts = calloc((size_t)o.threads, sizeof *ts);
    if (ws == NULL || ts == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    int64_t t0 = weft_now_ns();
    weft_deadline until = t0 + (int64_t)(o.duration_s * 1e9);
    for (int i = 0; i < o.threads; i++) {
        ws[i].o = &o;
        ws[i].until = until;
        ws[i].conns = o.conns / o.threads + (i < o.conns % o.threads);
        if (pthread_create(&ts[i], NULL, thread_main, &ws[i]) != 0) {
            fprintf(stderr, "loadgen: cannot start thread %d\n", i);
            return 1;
        }
    }
    static struct hist all;
    uint64_t done = 0, errors = 0;
    const char *first_error = NULL;
    for (int i = 0; i < o.threads; i++) {
        pthread_join(ts[i], NULL);
        for (unsigned b = 0; b < NBUCKETS; b++)
            all.n[b] += ws[i].hist.n[b];
        all.count += ws[i].hist.count;
        if (ws[i].hist.max > all.max)
            all.max = ws[i].hist.max;
        done += ws[i].done;
        errors += ws[i].errors;
        if (first_error == NULL && ws[i].errors > 0)
            first_error = ws[i].first_error;
    }
    double secs = (double)(weft_now_ns() - t0) / 1e9;
    printf("server: %s  connections: %d  threads: %d  size: %d bytes%s\n",
           server, o.conns, o.threads, o.size,
           o.per_conn ? "  one request per connection" : "");
    printf("requests: %llu  errors: %llu  duration: %.3f s  requests/s: "
           "%.0f\n",
           (unsigned long long)done, (unsigned long long)errors, secs,
           secs > 0 ? (double)done / secs : 0.0);
    if (all.count > 0)
        printf("latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
               (double)hist_pct(&all, 50) / 1e3,
               (double)hist_pct(&all, 99) / 1e3,
               (double)hist_pct(&all, 99.9) / 1e3, (double)all.max / 1e3);
    if (first_error != NULL)
        fprintf(stderr, "loadgen: %llu connection(s) failed; first: %s\n",
                (unsigned long long)errors, first_error);
    free(ws);
    free(ts);
    return errors == 0 ? 0 : 1;
}
