/* chat_room.c - the course's "customer service" server grown into a chat
 * room: many clients at once, each line one sends is passed on to all the
 * others, and the server itself answers a few commands.
 *
 * Python (gevent):
 *     clients = set()
 *     def talk(conn, addr):
 *         clients.add(conn)
 *         conn.sendall(b'welcome\n')
 *         for line in conn.makefile('rb'):
 *             for other in clients - {conn}:
 *                 other.sendall(f'[{addr}] '.encode() + line)
 *         clients.discard(conn)
 *     server = StreamServer(('127.0.0.1', 9130), talk)
 *     server.serve_forever()
 *
 * The server runs the coroutine model with one worker: every connection
 * is a coroutine of one scheduler, on one thread. The member list is then
 * shared without a lock - coroutines switch only where they wait, and no
 * code below waits while it walks or changes the list.
 *
 * The Python version has a trap: other.sendall() blocks the sender's
 * coroutine while a slow reader's socket is full, and two senders writing
 * to the same socket can interleave their bytes. Here nobody writes to
 * another member's socket. Each member has an outbox (a capped weft_buf)
 * and a writer coroutine of its own, woken by an event: broadcasting only
 * appends to outboxes, which never waits, and all bytes to one socket go
 * through its one writer, whole lines in order. A member whose outbox
 * overflows (it does not read) is disconnected rather than slowing the
 * room down.
 *
 * Commands: /who lists the members, /quit leaves, /help lists these.
 * The room says when someone joins or leaves, and says goodbye to
 * everyone when the server stops (SIGINT, SIGTERM).
 *
 * Run: ./build/examples/chat_room [--listen HOST:PORT] [--max-conns N]
 *      then, in two or more terminals: ./build/examples/chat_room_client
 *      (or nc 127.0.0.1 9130) and type.
 * Expect: "listening on 127.0.0.1:9130"; each client sees "* welcome",
 * the others' lines as "[127.0.0.1:PORT] text", and "* ... joined/left".
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <weft/weft.h>
#include <weft/server.h>

#define DEFAULT_LISTEN "127.0.0.1:9130"
#define LINE_MAX_BYTES 1024        /* longer lines are passed on in pieces */
#define OUTBOX_MAX     (64 * 1024) /* queued bytes before a member is cut */

static const char *prog = "chat_room";

/* A member of the room: lives on its handler's stack, in the list from
 * its welcome to its goodbye. */
struct member {
    weft_request *req;
    int fd;
    char name[WEFT_ADDR_TEXT_MAX]; /* the peer's address */
    weft_buf out;                  /* bytes waiting for the writer */
    weft_co_event *ready;          /* set when out has bytes, or closing */
    weft_co *writer;               /* the only coroutine writing to fd */
    bool closing;                  /* nothing more will be queued */
    bool dead;                     /* cut off: write failed or too slow */
    struct member *prev, *next;
};

/* The room. One scheduler thread: no lock. */
static struct member *members;
static int n_members;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--listen HOST:PORT] [--max-conns N]\n"
            "  --listen HOST:PORT  where to listen (default %s; port 0: any)\n"
            "  --max-conns N       members at once; more are refused\n"
            "                      (default %d)\n",
            prog, DEFAULT_LISTEN, WEFT_SERVER_MAX_CONNS_DEFAULT);
}

static void log_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "%s: %s: %s\n", prog, weft_log_level_name(level), msg);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* ---- output: outboxes and writers ---------------------------------------- */

/* Cut m off: its writer stops, and its handler's next read sees end of
 * file (shutdown, not close: the framework closes the socket). */
static void cut_off(struct member *m)
{
    if (m->dead)
        return;
    m->dead = true;
    shutdown(m->fd, SHUT_RDWR);
    weft_co_event_set(m->ready);
}

/* Queue bytes for m; never waits. A full outbox cuts m off. */
static void queue(struct member *m, const char *p, size_t n)
{
    if (m->dead || m->closing)
        return;
    if (weft_buf_append(&m->out, p, n) < 0) {
        fprintf(stderr, "%s: %s does not read: disconnected\n", prog, m->name);
        cut_off(m);
        return;
    }
    weft_co_event_set(m->ready);
}

static void queuef(struct member *m, const char *fmt, ...) WEFT_PRINTF(2, 3);
static void queuef(struct member *m, const char *fmt, ...)
{
    weft_buf b = WEFT_BUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    if (weft_buf_vappendf(&b, fmt, ap) == 0)
        queue(m, b.data, b.len);
    va_end(ap);
    weft_buf_free(&b);
}

/* Queue msg for every member but from: how many got it. */
static int broadcast(const struct member *from, const weft_buf *msg)
{
    int n = 0;

    for (struct member *m = members; m != NULL; m = m->next) {
        if (m == from || m->dead)
            continue;
        queue(m, msg->data, msg->len);
        n++;
    }
    return n;
}

/* The writer: send what the outbox holds, wait for more, until the
 * member is closing and all is sent, the socket fails, or a cancel. */
static int writer(void *arg)
{
    struct member *m = arg;
    int io_timeout = weft_request_io_timeout(m->req), rc = 0;
    weft_buf chunk;

    while (!m->dead) {
        if (m->out.len == 0) {
            if (m->closing)
                break;
            weft_co_event_clear(m->ready);
            rc = weft_co_event_wait(m->ready, -1);
            if (rc < 0)
                break;
            continue;
        }
        /* Take the bytes; lines queued while they go wait in a new box. */
        chunk = m->out;
        weft_buf_init(&m->out, OUTBOX_MAX);
        rc = weft_write_all(m->fd, chunk.data, chunk.len, NULL, io_timeout);
        weft_buf_free(&chunk);
        if (rc < 0) {
            cut_off(m);
            break;
        }
    }
    return rc;
}

/* ---- the room ------------------------------------------------------------ */

static void join_room(struct member *m)
{
    weft_buf msg = WEFT_BUF_INIT;

    queuef(m,
           "* welcome to the room, %s: %d other%s here. /who lists them, "
           "/quit leaves, /help helps\n",
           m->name, n_members, n_members == 1 ? " is" : "s are");
    if (weft_buf_appendf(&msg, "* %s joined\n", m->name) == 0)
        broadcast(m, &msg);
    weft_buf_free(&msg);
    m->next = members;
    if (members)
        members->prev = m;
    members = m;
    n_members++;
}

static void leave_room(struct member *m, const char *why)
{
    weft_buf msg = WEFT_BUF_INIT;

    if (m->prev)
        m->prev->next = m->next;
    else
        members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    n_members--;
    if (weft_buf_appendf(&msg, "* %s left%s\n", m->name, why) == 0)
        broadcast(m, &msg);
    weft_buf_free(&msg);
}

static void who(struct member *m)
{
    weft_buf msg = WEFT_BUF_INIT;
    int rc = weft_buf_appendf(&msg, "* %d here:", n_members);

    for (struct member *o = members; rc == 0 && o != NULL; o = o->next)
        rc = weft_buf_appendf(&msg, " %s%s%s", o->name, o == m ? " (you)" : "",
                              o->next ? "," : "");
    if (rc == 0 && weft_buf_append_str(&msg, "\n") == 0)
        queue(m, msg.data, msg.len);
    weft_buf_free(&msg);
}

/* One line from m (without its newline). false once m leaves. */
static bool on_line(struct member *m, char *line, size_t len)
{
    weft_buf msg = WEFT_BUF_INIT;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return true;
    /* Control characters would reach the others' terminals: show them. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    if (line[0] == '/') {
        if (len == 4 && memcmp(line, "/who", 4) == 0) {
            who(m);
        } else if (len == 5 && memcmp(line, "/quit", 5) == 0) {
            queuef(m, "* bye, %s\n", m->name);
            return false;
        } else if (len == 5 && memcmp(line, "/help", 5) == 0) {
            queuef(m, "* /who lists the members, /quit leaves; any other "
                      "line goes to everyone\n");
        } else {
            queuef(m, "* unknown command %.*s (/help lists them)\n", (int)len,
                   line);
        }
        return true;
    }
    if (weft_buf_appendf(&msg, "[%s] %.*s\n", m->name, (int)len, line) == 0 &&
        broadcast(m, &msg) == 0)
        queuef(m, "* nobody else is here yet\n");
    weft_buf_free(&msg);
    return true;
}

/* Wait for m's writer to send what is queued and end; if it cannot in
 * time (or this coroutine is being cancelled), cancel it. It must be
 * gone before the handler returns: it uses m, on the handler's stack. */
static void finish_writer(struct member *m, int timeout_ms)
{
    m->closing = true;
    weft_co_event_set(m->ready);
    if (weft_co_join(m->writer, timeout_ms, NULL) < 0) {
        weft_co_cancel(m->writer);
        while (!weft_co_done(m->writer))
            weft_co_yield(); /* yield is not refused to the cancelled */
    }
    weft_co_release(m->writer);
}

/* One member: welcome, then line after line until /quit, end of file,
 * idle timeout or the server stopping. */
static void handle(weft_request *req, void *arg)
{
    struct member m = {.req = req, .fd = weft_request_fd(req)};
    char buf[4096], line[LINE_MAX_BYTES];
    const char *why = "";
    size_t have = 0;
    bool staying = true;
    ssize_t n = 0;
    int rc;

    (void)arg;
    if (weft_addr_format(weft_request_peer(req), m.name, sizeof m.name) < 0)
        snprintf(m.name, sizeof m.name, "?");
    weft_buf_init(&m.out, OUTBOX_MAX);
    rc = weft_co_event_create(&m.ready);
    if (rc == 0) {
        rc = weft_co_spawn(&m.writer, writer, &m, NULL);
        if (rc < 0)
            weft_co_event_destroy(m.ready);
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, m.name, weft_strerror(rc));
        return;
    }
    join_room(&m);

    while (staying && !m.dead &&
           (n = weft_request_recv(req, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; staying && i < n; i++) {
            if (buf[i] != '\n')
                line[have++] = buf[i];
            if (buf[i] == '\n' || have == sizeof line) {
                staying = on_line(&m, line, have);
                have = 0;
            }
        }
    }
    if (staying && have > 0) /* a last line without its newline */
        on_line(&m, line, have);
    if (staying && !m.dead) {
        if (n == -ESHUTDOWN) {
            queuef(&m, "* the server is shutting down: bye\n");
            why = " (server shutting down)";
        } else if (n == -ETIMEDOUT) {
            queuef(&m, "* idle too long: bye\n");
            why = " (idle)";
        } else if (n < 0) {
            why = " (connection lost)";
        }
    } else if (m.dead) {
        why = " (disconnected)";
    }
    leave_room(&m, why);
    finish_writer(&m, weft_request_io_timeout(req));
    weft_co_event_destroy(m.ready);
    weft_buf_free(&m.out);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"max-conns", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *listen = DEFAULT_LISTEN;
    /* One scheduler on one thread: the member list needs no lock. */
    weft_server_opts so = {
        .model = WEFT_MODEL_COROUTINE, .workers = 1, .handler = handle};
    weft_server *srv = NULL;
    char text[WEFT_ADDR_TEXT_MAX];
    weft_addr a;
    long served;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'c':
            if (parse_int(optarg, 1, 100000, &so.max_conns) < 0) {
                fprintf(stderr, "%s: --max-conns: 1..100000\n", prog);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "%s: %s needs a value (try --help)\n", prog,
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "%s: unknown option %s (try --help)\n", prog,
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", prog,
                argv[optind]);
        return 2;
    }
    rc = weft_addr_parse(&a, listen);
    if (rc == -EINVAL) {
        fprintf(stderr, "%s: --listen %s: not HOST:PORT\n", prog, listen);
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    weft_log_set(log_stderr, NULL, WEFT_LOG_INFO);
    so.listen = &listen;
    so.n_listen = 1;
    rc = weft_server_create(&srv, &so);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", prog, listen,
                weft_strerror(rc));
        return 1;
    }
    if (weft_server_addr(srv, 0, &a) == 0 &&
        weft_addr_format(&a, text, sizeof text) > 0)
        printf("listening on %s\n", text);
    else
        printf("listening on %s\n", listen);
    fflush(stdout);

    rc = weft_server_run(srv);
    served = weft_server_served(srv);
    weft_server_destroy(srv);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, weft_strerror(rc));
        return 1;
    }
    printf("served %ld member%s\n", served, served == 1 ? "" : "s");
    return 0;
}
