/* echo_server.c - weft's contender in bench_server: an echo server on
 * weft_server (weft/server.h), in any of its six models.
 *
 *   echo_server --model MODEL [--workers N] [--listen HOST:PORT]
 *               [--max-conns N]
 *
 * MODEL is serial, fork, thread, prefork, threadpool or coroutine;
 * --workers and --max-conns go to weft_server_opts as they are (0, the
 * default, means weft's default). --listen defaults to 127.0.0.1:0.
 * Prints "listening on ADDR" (the port the kernel chose, after port 0),
 * serves until SIGTERM or SIGINT (weft_server_run's graceful stop) and
 * exits 0.
 *
 * The handler is the plainest use of the API: wait for the next request
 * and read what came (weft_request_recv), write it all back
 * (weft_request_write_all), until the client closes or the server stops.
 * It echoes without upper-casing, as echo_epoll and the Python servers
 * do: the load generator's payload is upper-case letters and digits, so
 * both kinds of echo answer alike, and all contenders do the same work.
 * Its 4 KiB buffer is on the handler's stack (a coroutine's stack in the
 * coroutine model), as a handler would write it; the benchmark's 1 KiB
 * requests fit in one read.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/core.h>
#include <weft/net.h>
#include <weft/server.h>

#define BUF_SIZE 4096

static void echo(weft_request *req, void *arg)
{
    char buf[BUF_SIZE];

    (void)arg;
    for (;;) {
        ssize_t n = weft_request_recv(req, buf, sizeof buf);
        if (n <= 0) /* the client closed, idle, stopping, an error */
            return;
        if (weft_request_write_all(req, buf, (size_t)n) < 0)
            return;
    }
}

/* Warnings and errors from the framework (refusals, crashes) go to
 * stderr, where the benchmark shows them. */
static void log_stderr(int level, const char *msg, void *userdata)
{
    (void)userdata;
    fprintf(stderr, "echo_server: %s: %s\n", weft_log_level_name(level), msg);
}

#define USAGE                                                                  \
    "usage: echo_server --model MODEL [--workers N] [--listen HOST:PORT] "     \
    "[--max-conns N]\n"                                                        \
    "MODEL: serial, fork, thread, prefork, threadpool or coroutine"

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"listen", required_argument, NULL, 'l'},
        {"max-conns", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *listen = "127.0.0.1:0", *model = NULL;
    weft_server_opts opts = {0};
    weft_server *s;
    weft_addr addr;
    char text[WEFT_ADDR_TEXT_MAX];
    long v;
    int c, rc;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'w':
            if (parse_int(optarg, 0, 100000, &v) < 0) {
                fprintf(stderr, "echo_server: --workers: 0 to 100000\n");
                return 2;
            }
            opts.workers = (int)v;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'c':
            if (parse_int(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "echo_server: --max-conns: a number >= 0\n");
                return 2;
            }
            opts.max_conns = (int)v;
            break;
        case 'h':
            printf("%s\n", USAGE);
            return 0;
        default:
            fprintf(stderr, "%s\n", USAGE);
            return 2;
        }
    }
    if (model == NULL || optind < argc) {
        fprintf(stderr, "%s\n", USAGE);
        return 2;
    }
    if (weft_server_model_parse(model, &opts.model) < 0) {
        fprintf(stderr, "echo_server: --model %s: not a model\n%s\n", model,
                USAGE);
        return 2;
    }
    opts.listen = &listen;
    opts.n_listen = 1;
    opts.kind = WEFT_SERVER_STREAM;
    opts.handler = echo;
    weft_log_set(log_stderr, NULL, WEFT_LOG_WARN);

    rc = weft_server_create(&s, &opts);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s: %s\n", listen, weft_strerror(rc));
        return 1;
    }
    rc = weft_server_addr(s, 0, &addr);
    if (rc >= 0)
        rc = weft_addr_format(&addr, text, sizeof text);
    if (rc < 0) {
        fprintf(stderr, "echo_server: address: %s\n", weft_strerror(rc));
        weft_server_destroy(s);
        return 1;
    }
    printf("listening on %s\n", text);
    fflush(stdout);
    rc = weft_server_run(s);
    if (rc < 0)
        fprintf(stderr, "echo_server: run: %s\n", weft_strerror(rc));
    weft_server_destroy(s);
    return rc < 0 ? 1 : 0;
}
