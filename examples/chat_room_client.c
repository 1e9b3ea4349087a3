/* chat_room_client.c - a client of the chat room (examples/chat_room.c):
 * what you type goes to the room, what the room says is printed as it
 * comes - both at once.
 *
 * Python (gevent):
 *     from gevent import monkey; monkey.patch_all()
 *     import gevent, socket, sys
 *     conn = socket.create_connection(('127.0.0.1', 9130))
 *     def show():
 *         while data := conn.recv(4096):
 *             sys.stdout.write(data.decode())
 *     def typed():
 *         for line in sys.stdin:
 *             conn.sendall(line.encode())
 *     gevent.joinall([gevent.spawn(show), gevent.spawn(typed)])
 *
 * The course's client alternates input() and recv(), so it cannot show a
 * message that arrives while the user is typing. Here two coroutines
 * share one thread (weft_co_run): the reader waits on the socket, the
 * other on stdin (weft_co_wait_fd), and whichever has data runs. When
 * input ends the client half-closes the socket, the room says goodbye
 * and closes its side, and the reader ends on that end of file; when the
 * room closes first (after /quit, or when the server stops), the input
 * coroutine is cancelled.
 *
 * For scripts and tests, --send TEXT (repeatable) sends those lines
 * instead of stdin, and --wait-ms MS keeps listening that long after the
 * last line before leaving.
 *
 * Run: ./build/examples/chat_room_client [--server HOST:PORT]
 *                                        [--send TEXT]... [--wait-ms MS]
 * Expect: "* welcome to the room, ...", then the others' lines as
 * "[127.0.0.1:PORT] text" while you type yours.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/weft.h>

#define DEFAULT_SERVER  "127.0.0.1:9130"
#define CONNECT_TIMEOUT 5000
#define WRITE_TIMEOUT   10000
#define LINGER_MS       3000 /* after leaving, wait this long for the end */
#define MAX_SENDS       64

static const char *prog = "chat_room_client";

struct client {
    int fd;
    const char *sends[MAX_SENDS]; /* --send lines; none: stdin */
    int n_sends;
    int wait_ms;
    weft_co *reader;
    int rc; /* the exit status */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--server HOST:PORT] [--send TEXT]... "
            "[--wait-ms MS]\n"
            "  --server HOST:PORT  the chat_room server (default %s)\n"
            "  --send TEXT         send this line (repeatable, up to %d);\n"
            "                      without it, the lines of stdin\n"
            "  --wait-ms MS        keep listening MS after the last line\n"
            "                      (default 0)\n",
            prog, DEFAULT_SERVER, MAX_SENDS);
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

/* Print what the room says until it closes (or a cancel). */
static int reader(void *arg)
{
    struct client *cl = arg;
    char buf[4096];
    ssize_t n;

    while ((n = weft_co_read(cl->fd, buf, sizeof buf, -1)) > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
    }
    if (n < 0 && n != -ECANCELED) {
        fprintf(stderr, "%s: %s\n", prog, weft_strerror((int)n));
        cl->rc = 1;
    }
    return 0;
}

/* Send the --send lines, or stdin as it comes; then listen --wait-ms
 * more, half-close, and give the room LINGER_MS to close its side. */
static int input(void *arg)
{
    struct client *cl = arg;
    char buf[4096];
    ssize_t n;
    int rc = 0;

    for (int i = 0; rc == 0 && i < cl->n_sends; i++) {
        rc = weft_write_all(cl->fd, cl->sends[i], strlen(cl->sends[i]), NULL,
                            WRITE_TIMEOUT);
        if (rc == 0)
            rc = weft_write_all(cl->fd, "\n", 1, NULL, WRITE_TIMEOUT);
    }
    while (rc == 0 && cl->n_sends == 0) {
        /* A terminal or a pipe is waited on; a file or /dev/null cannot
         * be (epoll refuses them) and never blocks: just read. */
        if (weft_co_wait_fd(STDIN_FILENO, WEFT_CO_READ, -1) == -ECANCELED)
            return 0;
        n = read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0)
            break;
        rc = weft_write_all(cl->fd, buf, (size_t)n, NULL, WRITE_TIMEOUT);
    }
    if (rc == -ECANCELED)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "%s: send: %s\n", prog, weft_strerror(rc));
        cl->rc = 1;
    }
    if (cl->wait_ms > 0 && weft_co_sleep(cl->wait_ms) < 0)
        return 0; /* cancelled: the room closed first */
    shutdown(cl->fd, SHUT_WR);
    if (weft_co_sleep(LINGER_MS) == 0) {
        fprintf(stderr, "%s: the room did not close the connection\n", prog);
        cl->rc = 1;
        weft_co_cancel(cl->reader);
    }
    return 0;
}

static int run(void *arg)
{
    struct client *cl = arg;
    weft_co *in = NULL;
    int rc;

    rc = weft_co_spawn(&cl->reader, reader, cl, NULL);
    if (rc == 0) {
        rc = weft_co_spawn(&in, input, cl, NULL);
        if (rc < 0)
            weft_co_cancel(cl->reader);
    }
    if (rc < 0) {
        fprintf(stderr, "%s: spawn: %s\n", prog, weft_strerror(rc));
        cl->rc = 1;
    }
    /* The room closing ends everything: stop reading stdin. */
    weft_co_join(cl->reader, -1, NULL);
    weft_co_cancel(in);
    weft_co_join(in, -1, NULL);
    weft_co_release(in);
    weft_co_release(cl->reader);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"send", required_argument, NULL, 'm'},
        {"wait-ms", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static struct client cl = {.fd = -1};
    const char *server = DEFAULT_SERVER;
    weft_addr a;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'm':
            if (cl.n_sends == MAX_SENDS || strchr(optarg, '\n') != NULL) {
                fprintf(stderr, "%s: --send: up to %d lines, one line each\n",
                        prog, MAX_SENDS);
                return 2;
            }
            cl.sends[cl.n_sends++] = optarg;
            break;
        case 'w':
            if (parse_int(optarg, 0, 3600000, &cl.wait_ms) < 0) {
                fprintf(stderr, "%s: --wait-ms: 0..3600000\n", prog);
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
    rc = weft_addr_parse(&a, server);
    if (rc == -EINVAL) {
        fprintf(stderr, "%s: --server %s: not HOST:PORT\n", prog, server);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, server, weft_strerror(rc));
        return 1;
    }
    cl.fd = weft_connect(&a, CONNECT_TIMEOUT);
    if (cl.fd < 0) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, server,
                weft_strerror(cl.fd));
        return 1;
    }
    rc = weft_co_run(run, &cl, NULL, NULL);
    close(cl.fd);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, weft_strerror(rc));
        return 1;
    }
    return cl.rc;
}
