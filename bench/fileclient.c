/* fileclient.c - the one client of bench_fileserver.py: downloads,
 * uploads and listings against weftd (its framed protocol), an FTP
 * server (vsftpd) and bench/sendfile_server, doing the same work for
 * each, so that what differs between the figures is the server.
 *
 *   fileclient --proto weft|ftp|raw --server HOST:PORT [--conns N]
 *              [--threads T] [--timeout MS] [--connect-at-once N]
 *              COMMAND ...
 *   get NAME              download NAME over --conns connections at once
 *                         (default 1), each the whole file; the bytes are
 *                         read into a 256 KiB buffer and dropped
 *   put FILE NAME [HEX]   upload FILE as NAME (sent with sendfile(2));
 *                         weft: HEX is the sha256 given in the request,
 *                         so weftd checks it (it hashes what it receives
 *                         either way)
 *   list PATH COUNT       weft only: COUNT listings of PATH one after the
 *                         other on one connection (the body is read, not
 *                         parsed)
 *
 * Per protocol: weft - one connection, one request frame, the reply frame
 * and its body (no hello: it is optional); ftp - a control connection,
 * USER anonymous, PASS, TYPE I, PASV, a data connection, RETR or STOR,
 * the final 226 reply, QUIT; raw - "GET\n" then the bytes until end of
 * file, or "PUT\n", the bytes, shutdown, then the answer "OK\n". The
 * clock runs from before the first connect to the last byte (download)
 * or the server's final reply (upload: the server has stored the file).
 *
 * Connections are set up at most --connect-at-once (16) at a time per
 * scheduler: connect, and for FTP the server's greeting, before the next
 * starts (the transfers still all run at once). vsftpd listens with a
 * backlog of 32; a burst of 100 connects overflows it, and a connection
 * whose handshake the kernel dropped that way, to a server that speaks
 * first, can wait for its greeting forever.
 *
 * Prints one line: "bytes: B  seconds: S  MB/s: X" (MB = 10^6 bytes), or
 * for list "lists: N  seconds: S  lists/s: X". Connections run as weft
 * coroutines, --threads schedulers (default 1) sharing them out. Exit
 * status: 0; 1 when a transfer failed (the reason on stderr); 2 for bad
 * arguments.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* as the library is built */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/weft.h>

#define BUF_SIZE    (256 * 1024)
#define SEND_SLICE  ((size_t)8 << 20) /* bytes per sendfile call */
#define MAX_THREADS 64

enum proto { P_WEFT, P_FTP, P_RAW };
enum cmd { C_GET, C_PUT, C_LIST };

struct opts {
    enum proto proto;
    enum cmd cmd;
    weft_addr server;
    int conns, threads, timeout_ms;
    const char *name; /* remote name (get, put) or path (list) */
    const char *file; /* put: the local file */
    const char *sha;  /* put: the sha256 to send (weft), or NULL */
    long count;       /* list: how many */
};

/* What every connection adds to, from any thread. */
static atomic_ullong total_bytes;
static atomic_int failures;

/* At most --connect-at-once connections of a scheduler are being set up
 * (connect, and for FTP the server's greeting) at one time; see the top. */
static int connect_at_once = 16;
static __thread weft_co_sem *gate;

/* Let the next connection start; once per connection (*held). */
static void gate_release(bool *held)
{
    if (*held) {
        *held = false;
        weft_co_sem_release(gate);
    }
}

/* One thread's share: a scheduler running n connections. */
struct worker {
    const struct opts *o;
    int n;
    pthread_t tid;
};

static void fail(const char *what, int rc)
{
    fprintf(stderr, "fileclient: %s: %s\n", what, weft_strerror(rc));
    atomic_fetch_add(&failures, 1);
}

/* ---- byte moving, the same for every protocol ---------------------------- */

/* Read until end of file (len < 0) or len bytes, dropping them: bytes
 * read, or a negative errno value. */
static int64_t drain(int fd, int64_t len, int timeout_ms)
{
    static __thread char *buf;
    int64_t got = 0;

    if (buf == NULL && (buf = malloc(BUF_SIZE)) == NULL)
        return -ENOMEM;
    while (len < 0 || got < len) {
        size_t want = BUF_SIZE;
        if (len >= 0 && (uint64_t)(len - got) < want)
            want = (size_t)(len - got);
        ssize_t r = weft_co_read(fd, buf, want, timeout_ms);
        if (r < 0)
            return r;
        if (r == 0)
            return len < 0 ? got : WEFT_ETRUNCATED;
        got += r;
    }
    return got;
}

/* Send the whole of file (opened here) with sendfile: 0 and *sent, or a
 * negative errno value. */
static int send_file(int fd, const char *path, uint64_t *sent, int timeout_ms)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    off_t pos = 0;
    int rc = 0;

    if (in < 0)
        return -errno;
    if (fstat(in, &st) < 0)
        rc = -errno;
    while (rc == 0 && pos < st.st_size) {
        size_t n = (size_t)(st.st_size - pos) < SEND_SLICE
                       ? (size_t)(st.st_size - pos)
                       : SEND_SLICE;
        ssize_t w = weft_co_sendfile(fd, in, &pos, n, timeout_ms);
        if (w == 0)
            rc = -EIO;
        else if (w < 0)
            rc = (int)w;
    }
    close(in);
    *sent = (uint64_t)pos;
    return rc;
}

static int write_str(int fd, const char *s, int timeout_ms)
{
    return weft_write_all(fd, s, strlen(s), NULL, timeout_ms);
}

/* ---- weft ------------------------------------------------------------------
 */

/* Receive a reply frame; 0 with *h and *size when it says ok. */
static int weft_reply(int fd, json_t **h, uint64_t *size, int timeout_ms)
{
    int rc = weft_frame_recv(fd, NULL, h, size, timeout_ms);
    if (rc < 0)
        return rc;
    if (!json_is_true(json_object_get(*h, "ok"))) {
        const char *e = json_string_value(json_object_get(*h, "message"));
        fprintf(stderr, "fileclient: weftd: %s\n", e ? e : "refused");
        json_decref(*h);
        return -EPROTO;
    }
    return 0;
}

static int weft_get(const struct opts *o, int fd)
{
    json_t *req = json_pack("{s:s, s:s}", "cmd", "get", "file_name", o->name);
    json_t *h;
    uint64_t size;
    int rc = req ? weft_frame_send(fd, req, NULL, 0, o->timeout_ms) : -ENOMEM;

    json_decref(req);
    if (rc == 0)
        rc = weft_reply(fd, &h, &size, o->timeout_ms);
    if (rc < 0)
        return rc;
    json_decref(h);
    int64_t got = drain(fd, (int64_t)size, o->timeout_ms);
    if (got < 0)
        return (int)got;
    atomic_fetch_add(&total_bytes, (unsigned long long)got);
    return 0;
}

static int weft_put(const struct opts *o, int fd)
{
    struct stat st;
    json_t *req, *h;
    uint64_t size, sent;
    int rc;

    if (stat(o->file, &st) < 0)
        return -errno;
    req = json_pack("{s:s, s:s}", "cmd", "put", "file_name", o->name);
    if (req != NULL && o->sha != NULL)
        json_object_set_new(req, "sha256", json_string(o->sha));
    rc = req ? weft_frame_send_header(fd, req, (uint64_t)st.st_size,
                                      o->timeout_ms)
             : -ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = send_file(fd, o->file, &sent, o->timeout_ms);
    if (rc == 0)
        rc = weft_reply(fd, &h, &size, o->timeout_ms);
    if (rc < 0)
        return rc;
    json_decref(h);
    atomic_fetch_add(&total_bytes, sent);
    return 0;
}

static int weft_list(const struct opts *o, int fd)
{
    for (long i = 0; i < o->count; i++) {
        json_t *req = json_pack("{s:s, s:s}", "cmd", "list", "path", o->name);
        json_t *h;
        uint64_t size;
        int rc =
            req ? weft_frame_send(fd, req, NULL, 0, o->timeout_ms) : -ENOMEM;
        json_decref(req);
        if (rc == 0)
            rc = weft_reply(fd, &h, &size, o->timeout_ms);
        if (rc < 0)
            return rc;
        json_decref(h);
        int64_t got = drain(fd, (int64_t)size, o->timeout_ms);
        if (got < 0)
            return (int)got;
        atomic_fetch_add(&total_bytes, (unsigned long long)got);
    }
    return 0;
}

/* ---- ftp -------------------------------------------------------------------
 */

/* The control connection, with a buffer for its reply lines. */
struct ctl {
    int fd, timeout_ms;
    char buf[4096];
    size_t len;
    char line[1024]; /* the last line of the last reply */
};

/* Read one reply (all its lines, "NNN-" ... "NNN "): its code, or a
 * negative errno value. */
static int ftp_reply(struct ctl *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl == NULL) {
            if (c->len == sizeof c->buf)
                return -EMSGSIZE;
            ssize_t r = weft_co_read(c->fd, c->buf + c->len,
                                     sizeof c->buf - c->len, c->timeout_ms);
            if (r < 0)
                return (int)r;
            if (r == 0)
                return WEFT_ETRUNCATED;
            c->len += (size_t)r;
            continue;
        }
        size_t n = (size_t)(nl - c->buf) + 1;
        size_t keep = n < sizeof c->line ? n : sizeof c->line - 1;
        memcpy(c->line, c->buf, keep);
        c->line[keep] = '\0';
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        if (keep >= 4 && c->line[3] == ' ' && c->line[0] >= '1' &&
            c->line[0] <= '5')
            return (int)strtol(c->line, NULL, 10);
    }
}

/* Send a command (NULL: none) and expect a reply code in [lo, hi]. */
static int ftp_cmd(struct ctl *c, const char *cmd, int lo, int hi)
{
    int rc = cmd ? write_str(c->fd, cmd, c->timeout_ms) : 0;
    if (rc == 0)
        rc = ftp_reply(c);
    if (rc < 0) {
        fprintf(stderr, "fileclient: ftp: %s: %s\n", cmd ? cmd : "greeting",
                weft_strerror(rc));
        return rc;
    }
    if (rc < lo || rc > hi) {
        fprintf(stderr, "fileclient: ftp: %s-> %s", cmd ? cmd : "greeting ",
                c->line);
        return -EPROTO;
    }
    return 0;
}

/* Log in, binary mode, passive: the data connection's descriptor. The
 * gate is released once the greeting came (*held). */
static int ftp_open(const struct opts *o, struct ctl *c, bool *held)
{
    unsigned h[4], p[2];
    int rc;

    rc = ftp_cmd(c, NULL, 220, 220);
    gate_release(held);
    if (rc < 0 || (rc = ftp_cmd(c, "USER anonymous\r\n", 230, 331)) < 0)
        return rc;
    if (strncmp(c->line, "331", 3) == 0 &&
        (rc = ftp_cmd(c, "PASS bench@\r\n", 230, 230)) < 0)
        return rc;
    if ((rc = ftp_cmd(c, "TYPE I\r\n", 200, 200)) < 0 ||
        (rc = ftp_cmd(c, "PASV\r\n", 227, 227)) < 0)
        return rc;
    const char *s = strchr(c->line, '(');
    if (s == NULL || sscanf(s, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2],
                            &h[3], &p[0], &p[1]) != 6)
        return -EPROTO;
    char text[64];
    weft_addr a;
    snprintf(text, sizeof text, "%u.%u.%u.%u:%u", h[0], h[1], h[2], h[3],
             p[0] * 256 + p[1]);
    rc = weft_addr_parse(&a, text);
    if (rc == 0)
        rc = weft_connect(&a, o->timeout_ms);
    if (rc < 0)
        fprintf(stderr, "fileclient: ftp: data connection to %s: %s\n", text,
                weft_strerror(rc));
    return rc;
}

static int ftp_transfer(const struct opts *o, int fd, bool *held)
{
    struct ctl *c = calloc(1, sizeof *c);
    char cmd[1100];
    uint64_t sent = 0;
    int data, rc;

    if (c == NULL)
        return -ENOMEM;
    c->fd = fd;
    c->timeout_ms = o->timeout_ms;
    data = ftp_open(o, c, held);
    if (data < 0) {
        free(c);
        return data;
    }
    snprintf(cmd, sizeof cmd, "%s %s\r\n", o->cmd == C_GET ? "RETR" : "STOR",
             o->name);
    rc = ftp_cmd(c, cmd, 125, 150);
    if (rc == 0 && o->cmd == C_GET) {
        int64_t got = drain(data, -1, o->timeout_ms);
        rc = got < 0 ? (int)got : 0;
        sent = got < 0 ? 0 : (uint64_t)got;
    } else if (rc == 0) {
        rc = send_file(data, o->file, &sent, o->timeout_ms);
    }
    close(data);
    if (rc == 0)
        rc = ftp_cmd(c, NULL, 226, 226); /* the transfer is complete */
    if (rc == 0) {
        atomic_fetch_add(&total_bytes, sent);
        write_str(fd, "QUIT\r\n", o->timeout_ms);
    }
    free(c);
    return rc;
}

/* ---- raw (sendfile_server) --------------------------------------------- */

static int raw_transfer(const struct opts *o, int fd)
{
    char ok[8];
    uint64_t sent = 0;
    int rc = write_str(fd, o->cmd == C_GET ? "GET\n" : "PUT\n", o->timeout_ms);

    if (rc == 0 && o->cmd == C_GET) {
        int64_t got = drain(fd, -1, o->timeout_ms);
        rc = got < 0 ? (int)got : 0;
        sent = got < 0 ? 0 : (uint64_t)got;
    } else if (rc == 0) {
        rc = send_file(fd, o->file, &sent, o->timeout_ms);
        if (rc == 0 && shutdown(fd, SHUT_WR) < 0)
            rc = -errno;
        if (rc == 0)
            rc = weft_read_exact(fd, ok, 3, NULL, o->timeout_ms);
        if (rc == 0 && memcmp(ok, "OK\n", 3) != 0)
            rc = -EPROTO;
    }
    if (rc == 0)
        atomic_fetch_add(&total_bytes, sent);
    return rc;
}

/* ---- connections and threads -------------------------------------------- */

static int conn_main(void *arg)
{
    const struct opts *o = arg;
    bool held = weft_co_sem_acquire(gate, -1) == 0;
    int fd = weft_connect(&o->server, o->timeout_ms);
    int rc;

    if (fd < 0) {
        gate_release(&held);
        fail("connect", fd);
        return fd;
    }
    if (o->proto != P_FTP)
        gate_release(&held); /* the server does not speak first */
    if (o->proto == P_WEFT)
        rc = o->cmd == C_GET   ? weft_get(o, fd)
             : o->cmd == C_PUT ? weft_put(o, fd)
                               : weft_list(o, fd);
    else if (o->proto == P_FTP)
        rc = ftp_transfer(o, fd, &held);
    else
        rc = raw_transfer(o, fd);
    gate_release(&held);
    close(fd);
    if (rc < 0)
        fail(o->cmd == C_GET ? "get" : o->cmd == C_PUT ? "put" : "list", rc);
    return rc;
}

static int sched_main(void *arg)
{
    struct worker *w = arg;

    if (weft_co_sem_create(&gate, (unsigned)connect_at_once) < 0) {
        fail("semaphore", -ENOMEM);
        return -ENOMEM;
    }
    for (int i = 0; i < w->n; i++)
        if (weft_co_spawn(NULL, conn_main, (void *)w->o, NULL) < 0)
            fail("spawn", -ENOMEM);
    return 0;
}

static void *thread_main(void *arg)
{
    int rc = weft_co_run(sched_main, arg, NULL, NULL);
    if (rc < 0)
        fail("scheduler", rc);
    weft_co_sem_destroy(gate);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fileclient --proto weft|ftp|raw --server HOST:PORT\n"
            "           [--conns N] [--threads T] [--timeout MS]\n"
            "           [--connect-at-once N] COMMAND\n"
            "  get NAME | put FILE NAME [SHA256] | list PATH COUNT\n");
    exit(2);
}

static long number(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"proto", 1, NULL, 'p'},   {"server", 1, NULL, 's'},
        {"conns", 1, NULL, 'c'},   {"threads", 1, NULL, 't'},
        {"timeout", 1, NULL, 'T'}, {"connect-at-once", 1, NULL, 'a'},
        {NULL, 0, NULL, 0}};
    struct opts o = {.conns = 1, .threads = 1, .timeout_ms = 60000};
    const char *proto = NULL, *server = NULL;
    struct worker w[MAX_THREADS];
    int c;

    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        if (c == 'p')
            proto = optarg;
        else if (c == 's')
            server = optarg;
        else if (c == 'c')
            o.conns = (int)number(optarg, 1, 100000);
        else if (c == 't')
            o.threads = (int)number(optarg, 1, MAX_THREADS);
        else if (c == 'T')
            o.timeout_ms = (int)number(optarg, -1, 86400000);
        else if (c == 'a')
            connect_at_once = (int)number(optarg, 1, 100000);
        else
            usage();
    }
    if (proto == NULL || server == NULL || optind >= argc ||
        weft_addr_parse(&o.server, server) < 0)
        usage();
    if (strcmp(proto, "weft") == 0)
        o.proto = P_WEFT;
    else if (strcmp(proto, "ftp") == 0)
        o.proto = P_FTP;
    else if (strcmp(proto, "raw") == 0)
        o.proto = P_RAW;
    else
        usage();
    const char *cmd = argv[optind++];
    int nargs = argc - optind;
    if (strcmp(cmd, "get") == 0 && nargs == 1) {
        o.cmd = C_GET;
        o.name = argv[optind];
    } else if (strcmp(cmd, "put") == 0 && (nargs == 2 || nargs == 3)) {
        o.cmd = C_PUT;
        o.file = argv[optind];
        o.name = argv[optind + 1];
        o.sha = nargs == 3 ? argv[optind + 2] : NULL;
    } else if (strcmp(cmd, "list") == 0 && nargs == 2 && o.proto == P_WEFT) {
        o.cmd = C_LIST;
        o.name = argv[optind];
        o.count = number(argv[optind + 1], 1, 100000000);
    } else {
        usage();
    }
    if (o.cmd != C_GET)
        o.conns = 1;
    if (o.threads > o.conns)
        o.threads = o.conns;

    uint64_t t0 = weft_now_ns();
    for (int i = 0; i < o.threads; i++) {
        w[i].o = &o;
        w[i].n = o.conns / o.threads + (i < o.conns % o.threads ? 1 : 0);
        if (pthread_create(&w[i].tid, NULL, thread_main, &w[i]) != 0) {
            fprintf(stderr, "fileclient: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < o.threads; i++)
        pthread_join(w[i].tid, NULL);
    double s = (double)(weft_now_ns() - t0) / 1e9;

    if (atomic_load(&failures) > 0)
        return 1;
    if (o.cmd == C_LIST)
        printf("lists: %ld  seconds: %.6f  lists/s: %.1f\n", o.count, s,
               (double)o.count / s);
    else
        printf("bytes: %llu  seconds: %.6f  MB/s: %.1f\n",
               (unsigned long long)atomic_load(&total_bytes), s,
               (double)atomic_load(&total_bytes) / s / 1e6);
    return 0;
}
