/* upper_echo.c - the course's upper-case echo server, in any of the six
 * concurrency models of weft/server.h, chosen on the command line.
 *
 * Python (socketserver):
 *     class Handler(socketserver.BaseRequestHandler):
 *         def handle(self):
 *             while True:
 *                 data = self.request.recv(1024)
 *                 if not data: break
 *                 self.request.sendall(data.upper())
 *     server = socketserver.ThreadingTCPServer(('127.0.0.1', 9100),
 *                                              Handler)
 *     server.serve_forever()
 *
 * The handler is written once, as blocking code: wait for the client's
 * next bytes (weft_request_recv), upper-case them, write them all back
 * (weft_request_write_all), until the client closes. --model then runs it
 * as Python's TCPServer (serial), ForkingMixIn (fork), ThreadingMixIn
 * (thread), a pre-forked process pool (prefork), a thread pool
 * (threadpool) or gevent (coroutine): the same handler, the only change a
 * word on the command line. Connections over --max-conns get a one-line
 * refusal ("ERR busy: ...") instead of a hang; SIGINT or SIGTERM stop the
 * server gracefully (clients waiting for their next request are let go at
 * once).
 *
 * Each chunk is answered as it comes, so the reply has exactly the bytes
 * sent: the classic Python client (send text, recv(1024)) and `nc` both
 * work, and so does examples/upper_echo_client.c.
 *
 * Run: ./build/examples/upper_echo [--listen HOST:PORT] [--model NAME]
 *                                  [--workers N] [--max-conns N]
 *      then: ./build/examples/upper_echo_client --count 3
 *      (or nc 127.0.0.1 9100); Ctrl-C stops the server.
 * Expect: "listening on 127.0.0.1:9100", the server's start on stderr,
 * the client's lines upper-cased, and after Ctrl-C "served N
 * connections".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>
#include <weft/server.h>

#define DEFAULT_LISTEN "127.0.0.1:9100"
#define DEFAULT_MODEL  "thread"
#define CHUNK          4096

static const char *prog = "upper_echo";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--listen HOST:PORT] [--model NAME] [--workers N]\n"
            "          [--max-conns N]\n"
            "  --listen HOST:PORT  where to listen (default %s; port 0: any)\n"
            "  --model NAME        serial, fork, thread, prefork, threadpool\n"
            "                      or coroutine (default %s)\n"
            "  --workers N         processes or threads of the prefork,\n"
            "                      threadpool and coroutine models\n"
            "  --max-conns N       connections served at once; more are\n"
            "                      refused (default %d)\n",
            prog, DEFAULT_LISTEN, DEFAULT_MODEL, WEFT_SERVER_MAX_CONNS_DEFAULT);
}

/* The library's log messages (start, stop, refusals, crashes). */
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

static void upper(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] = (char)(p[i] - 'a' + 'A');
}

/* One connection: echo each chunk upper-cased until the client closes
 * (0), goes quiet for the idle timeout, or the server stops. */
static void handle(weft_request *req, void *arg)
{
    char buf[CHUNK], peer[WEFT_ADDR_TEXT_MAX];
    ssize_t n;
    int rc = 0;

    (void)arg;
    while ((n = weft_request_recv(req, buf, sizeof buf)) > 0) {
        upper(buf, (size_t)n);
        rc = weft_request_write_all(req, buf, (size_t)n);
        if (rc < 0)
            break;
    }
    if (n < 0)
        rc = (int)n;
    /* End of file and a stopping server are the normal ends. */
    if (rc < 0 && rc != -ESHUTDOWN) {
        if (weft_addr_format(weft_request_peer(req), peer, sizeof peer) < 0)
            snprintf(peer, sizeof peer, "?");
        fprintf(stderr, "%s: %s: %s\n", prog, peer, weft_strerror(rc));
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"model", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"max-conns", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *listen = DEFAULT_LISTEN;
    weft_server_opts so = {.handler = handle};
    weft_server *srv = NULL;
    char text[WEFT_ADDR_TEXT_MAX];
    weft_addr a;
    long served;
    int c, rc;

    if (weft_server_model_parse(DEFAULT_MODEL, &so.model) < 0)
        return 1;
    opterr = 0; /* one line of our own for a bad argument */
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'm':
            if (weft_server_model_parse(optarg, &so.model) < 0) {
                fprintf(stderr,
                        "%s: unknown model '%s' (serial, fork, thread, "
                        "prefork, threadpool, coroutine)\n",
                        prog, optarg);
                return 2;
            }
            break;
        case 'w':
            if (parse_int(optarg, 1, 4096, &so.workers) < 0) {
                fprintf(stderr, "%s: --workers: 1..4096\n", prog);
                return 2;
            }
            break;
        case 'c':
            if (parse_int(optarg, 1, 1000000, &so.max_conns) < 0) {
                fprintf(stderr, "%s: --max-conns: 1..1000000\n", prog);
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
    /* Nothing may wait in stdio's buffer when fork models copy it. */
    fflush(stdout);

    rc = weft_server_run(srv);
    served = weft_server_served(srv);
    weft_server_destroy(srv);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, weft_strerror(rc));
        return 1;
    }
    printf("served %ld connection%s\n", served, served == 1 ? "" : "s");
    return 0;
}
