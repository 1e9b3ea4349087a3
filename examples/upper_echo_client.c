/* upper_echo_client.c - the client of the upper-case echo server
 * (examples/upper_echo.c): send lines, print each reply.
 *
 * Python (the course's client):
 *     client = socket.socket()
 *     client.connect(('127.0.0.1', 9100))
 *     while True:
 *         msg = input('>>> ').strip()
 *         if not msg: continue
 *         client.send(msg.encode())
 *         print(client.recv(1024).decode())
 *
 * recv(1024) returns whatever has arrived, which over TCP need not be the
 * whole reply: the "sticky packet" problem in small. This client knows
 * the reply has exactly as many bytes as the line it sent, so it reads
 * exactly that many (weft_read_exact) and never mixes up two replies.
 * A reply that is not the line upper-cased - the server's "ERR busy"
 * refusal, for instance - is shown on stderr and ends the run.
 *
 * Run: ./build/examples/upper_echo_client [--server HOST:PORT]
 *                                         [--count N | --stdin | -]
 *                                         [--timeout MS]
 *      --count N sends N lines of sample text (default 5); --stdin (or
 *      "-") sends the lines read from stdin instead.
 * Expect: each line upper-cased, e.g. "1: HELLO, WEFT".
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

#define DEFAULT_SERVER  "127.0.0.1:9100"
#define DEFAULT_COUNT   5
#define DEFAULT_TIMEOUT 5000
#define REFUSAL_MAX     512 /* bytes of an unexpected answer shown */

static const char *prog = "upper_echo_client";

static const char *const samples[] = {
    "hello, weft",
    "the quick brown fox jumps over the lazy dog",
    "tcp is a stream of bytes, not of messages",
    "one handler, six concurrency models",
    "goodbye",
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--server HOST:PORT] [--count N | --stdin | -]\n"
            "          [--timeout MS]\n"
            "  --server HOST:PORT  the upper_echo server (default %s)\n"
            "  --count N           send N lines of sample text (default %d)\n"
            "  --stdin, -          send the lines of stdin instead\n"
            "  --timeout MS        for connecting and each reply (default "
            "%d)\n",
            prog, DEFAULT_SERVER, DEFAULT_COUNT, DEFAULT_TIMEOUT);
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

/* The server's answer was not our line upper-cased: read what else it
 * has to say (briefly), and show it on one line. */
static void show_unexpected(int fd, const char *got, size_t n, int timeout)
{
    char text[REFUSAL_MAX + 1];
    size_t len = n < REFUSAL_MAX ? n : REFUSAL_MAX, more = 0;

    memcpy(text, got, len);
    if (len < REFUSAL_MAX)
        weft_read_exact(fd, text + len, REFUSAL_MAX - len, &more,
                        timeout < 500 ? timeout : 500);
    len += more;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' || text[i] == '\r')
            text[i] = ' ';
    text[len] = '\0';
    fprintf(stderr, "%s: unexpected answer: %s\n", prog, text);
}

/* Send line[0..len) (its newline included) and print the reply: 0, or 1
 * after printing why not. */
static int round_trip(int fd, const char *line, size_t len, int timeout)
{
    char *reply = malloc(len + 1);
    size_t got = 0;
    int rc;

    if (reply == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    rc = weft_write_all(fd, line, len, NULL, timeout);
    if (rc == 0)
        rc = weft_read_exact(fd, reply, len, &got, timeout);
    for (size_t i = 0; i < got; i++) {
        char want = line[i] >= 'a' && line[i] <= 'z'
                        ? (char)(line[i] - 'a' + 'A')
                        : line[i];
        if (reply[i] != want) {
            show_unexpected(fd, reply, got, timeout);
            free(reply);
            return 1;
        }
    }
    if (rc < 0) {
        if (rc == WEFT_ECLOSED && got > 0)
            show_unexpected(fd, reply, got, timeout);
        else
            fprintf(stderr, "%s: %s\n", prog,
                    rc == WEFT_ECLOSED ? "the server closed the connection"
                                       : weft_strerror(rc));
        free(reply);
        return 1;
    }
    fwrite(reply, 1, len, stdout);
    free(reply);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'},
        {"stdin", no_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = DEFAULT_SERVER;
    int count = DEFAULT_COUNT, timeout = DEFAULT_TIMEOUT, c, fd, rc = 0;
    bool from_stdin = false;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    weft_addr a;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'n':
            if (parse_int(optarg, 0, 1000000, &count) < 0) {
                fprintf(stderr, "%s: --count: 0..1000000\n", prog);
                return 2;
            }
            break;
        case 'i':
            from_stdin = true;
            break;
        case 't':
            if (parse_int(optarg, 1, 3600000, &timeout) < 0) {
                fprintf(stderr, "%s: --timeout: 1..3600000 ms\n", prog);
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
    if (optind < argc && strcmp(argv[optind], "-") == 0) {
        from_stdin = true;
        optind++;
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
    fd = weft_connect(&a, timeout);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, server,
                weft_strerror(fd));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    rc = 0;
    if (from_stdin) {
        /* Each line as it is read, newline and all; a last line without
         * one is sent without one. */
        while (rc == 0 && (len = getline(&line, &cap, stdin)) > 0) {
            rc = round_trip(fd, line, (size_t)len, timeout);
            if (rc == 0 && line[len - 1] != '\n')
                putchar('\n');
        }
        free(line);
    } else {
        for (int i = 0; rc == 0 && i < count; i++) {
            char msg[128];
            int n = snprintf(
                msg, sizeof msg, "%d: %s\n", i + 1,
                samples[(size_t)i % (sizeof samples / sizeof samples[0])]);
            rc = round_trip(fd, msg, (size_t)n, timeout);
        }
    }
    close(fd);
    return rc;
}
