/* udp_chat.c - the course's UDP chat server: every datagram is a message
 * on its own, answered by one datagram back to its sender.
 *
 * Python:
 *     server = socket.socket(type=socket.SOCK_DGRAM)
 *     server.bind(('127.0.0.1', 9110))
 *     while True:
 *         msg, addr = server.recvfrom(1024)
 *         print(addr, msg.decode())
 *         server.sendto(input('reply: ').encode(), addr)
 *
 * UDP has no connections: no accept, no end of file, no stream to split
 * into messages. A datagram arrives whole or not at all, so the
 * "sticky packet" problem of TCP does not exist here - and neither does
 * delivery: a lost datagram is simply gone (the client's timeout is the
 * only way to know). With kind WEFT_SERVER_DGRAM the server framework
 * calls the handler once per datagram; weft_request_data gives it the
 * message and weft_request_reply answers the sender.
 *
 * By default the answer is automatic, "server got: " and the text, so any
 * client that sends one message and waits for one reply works
 * (examples/udp_chat_client.c, or the Python client above). With
 * --interactive the operator types each reply, as in the course (stdin
 * must be a terminal; the model is then serial, one message at a time).
 *
 * Run: ./build/examples/udp_chat [--listen HOST:PORT] [--model NAME]
 *                                [--interactive]
 *      then: ./build/examples/udp_chat_client --count 3
 * Expect: "listening on 127.0.0.1:9110", one line per message received
 * ("127.0.0.1:PORT: hello"), and at the client "server got: hello".
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>
#include <weft/server.h>

#define DEFAULT_LISTEN "127.0.0.1:9110"
#define DEFAULT_MODEL  "serial"
#define PREFIX         "server got: "
#define SHOWN_MAX      200 /* bytes of a message echoed to stdout */

static const char *prog = "udp_chat";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--listen HOST:PORT] [--model NAME] [--interactive]\n"
            "  --listen HOST:PORT  where to listen (default %s; port 0: any)\n"
            "  --model NAME        serial, fork, thread, prefork, threadpool\n"
            "                      or coroutine (default %s)\n"
            "  --interactive       type each reply (stdin must be a "
            "terminal)\n",
            prog, DEFAULT_LISTEN, DEFAULT_MODEL);
}

static void log_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "%s: %s: %s\n", prog, weft_log_level_name(level), msg);
}

/* Print "PEER: text" on one line: control characters become '.', long
 * messages are cut. */
static void show(const weft_request *req, const char *data, size_t len)
{
    char peer[WEFT_ADDR_TEXT_MAX], text[SHOWN_MAX + 1];
    size_t n = len < SHOWN_MAX ? len : SHOWN_MAX;

    if (weft_addr_format(weft_request_peer(req), peer, sizeof peer) < 0)
        snprintf(peer, sizeof peer, "?");
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++)
        text[i] = (unsigned char)data[i] < 0x20 ? '.' : data[i];
    text[n] = '\0';
    printf("%s: %s%s\n", peer, text, len > SHOWN_MAX ? "..." : "");
}

/* The automatic answer: "server got: " and the message. */
static void handle_auto(weft_request *req, void *arg)
{
    static const size_t plen = sizeof PREFIX - 1;
    char *reply;
    const char *data;
    size_t len;
    ssize_t rc;

    (void)arg;
    data = weft_request_data(req, &len);
    show(req, data, len);
    /* A reply longer than a datagram can be is cut to fit. */
    if (len > WEFT_SERVER_MAX_DGRAM - plen)
        len = WEFT_SERVER_MAX_DGRAM - plen;
    reply = malloc(plen + len);
    if (reply == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return;
    }
    memcpy(reply, PREFIX, plen);
    memcpy(reply + plen, data, len);
    rc = weft_request_reply(req, reply, plen + len);
    if (rc < 0)
        fprintf(stderr, "%s: reply: %s\n", prog, weft_strerror((int)rc));
    free(reply);
}

/* The operator's answer, read from the terminal. It waits in short polls
 * so that a stopping server (Ctrl-C) is noticed while nobody types. */
static void handle_interactive(weft_request *req, void *arg)
{
    char line[1024];
    const char *data;
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    size_t len;
    ssize_t n;

    (void)arg;
    data = weft_request_data(req, &len);
    show(req, data, len);
    printf("reply> ");
    fflush(stdout);
    for (;;) {
        if (weft_request_stopping(req)) {
            printf("\n");
            return;
        }
        if (poll(&p, 1, 200) > 0)
            break;
    }
    n = read(STDIN_FILENO, line, sizeof line);
    if (n <= 0) /* end of input: answer nothing */
        return;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    n = weft_request_reply(req, line, (size_t)n);
    if (n < 0)
        fprintf(stderr, "%s: reply: %s\n", prog, weft_strerror((int)n));
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"model", required_argument, NULL, 'm'},
        {"interactive", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *listen = DEFAULT_LISTEN;
    weft_server_opts so = {.kind = WEFT_SERVER_DGRAM, .handler = handle_auto};
    weft_server *srv = NULL;
    char text[WEFT_ADDR_TEXT_MAX];
    bool interactive = false, model_given = false;
    weft_addr a;
    long served;
    int c, rc;

    if (weft_server_model_parse(DEFAULT_MODEL, &so.model) < 0)
        return 1;
    opterr = 0;
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
            model_given = true;
            break;
        case 'i':
            interactive = true;
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
    if (interactive) {
        /* One terminal, one operator: one message at a time. */
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr, "%s: --interactive needs a terminal\n", prog);
            return 2;
        }
        if (model_given && so.model != WEFT_MODEL_SERIAL) {
            fprintf(stderr, "%s: --interactive runs the serial model only\n",
                    prog);
            return 2;
        }
        so.model = WEFT_MODEL_SERIAL;
        so.handler = handle_interactive;
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
        fprintf(stderr, "%s: cannot bind %s: %s\n", prog, listen,
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
    printf("answered %ld message%s\n", served, served == 1 ? "" : "s");
    return 0;
}
