/* udp_chat_client.c - the client of the UDP chat server
 * (examples/udp_chat.c): each message one datagram, each answer one
 * datagram, waited for with a timeout.
 *
 * Python (the course's client):
 *     client = socket.socket(type=socket.SOCK_DGRAM)
 *     while True:
 *         msg = input('>>> ').strip()
 *         client.sendto(msg.encode(), ('127.0.0.1', 9110))
 *         data, addr = client.recvfrom(1024)
 *         print(data.decode())
 *
 * No connect: the socket is bound by the kernel on the first send, and
 * every sendto names the server. A lost datagram (or no server at all)
 * shows only as silence, which the timeout turns into an error - the
 * Python client above would wait forever. Answers from any other address
 * than the server's are ignored.
 *
 * Run: ./build/examples/udp_chat_client [--server HOST:PORT]
 *                                       [--count N | --stdin | -]
 *                                       [--timeout MS]
 *      --count N sends N sample messages (default 3); --stdin (or "-")
 *      sends each line of stdin as a message.
 * Expect: one answer per message, e.g. "server got: hello 1".
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

#define DEFAULT_SERVER  "127.0.0.1:9110"
#define DEFAULT_COUNT   3
#define DEFAULT_TIMEOUT 3000
#define MAX_DGRAM       65507 /* the largest UDP payload over IPv4 */

static const char *prog = "udp_chat_client";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--server HOST:PORT] [--count N | --stdin | -]\n"
            "          [--timeout MS]\n"
            "  --server HOST:PORT  the udp_chat server (default %s)\n"
            "  --count N           send N sample messages (default %d)\n"
            "  --stdin, -          send each line of stdin instead\n"
            "  --timeout MS        wait for each answer (default %d)\n",
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

/* Two addresses are the same endpoint (family, address and port; the
 * padding of a sockaddr may differ). */
static bool same_addr(const weft_addr *x, const weft_addr *y)
{
    const struct sockaddr_in *x4 = (const void *)&x->ss,
                             *y4 = (const void *)&y->ss;
    const struct sockaddr_in6 *x6 = (const void *)&x->ss,
                              *y6 = (const void *)&y->ss;

    if (x->ss.ss_family != y->ss.ss_family)
        return false;
    if (x->ss.ss_family == AF_INET)
        return x4->sin_port == y4->sin_port &&
               x4->sin_addr.s_addr == y4->sin_addr.s_addr;
    if (x->ss.ss_family == AF_INET6)
        return x6->sin6_port == y6->sin6_port &&
               !memcmp(&x6->sin6_addr, &y6->sin6_addr, sizeof x6->sin6_addr);
    return x->len == y->len && memcmp(&x->ss, &y->ss, x->len) == 0;
}

/* Send one message and print its answer: 0, or 1 after saying why not. */
static int exchange(int fd, const weft_addr *server, const char *msg,
                    size_t len, char *buf, int timeout)
{
    weft_deadline until = weft_deadline_in(timeout);
    weft_addr from;
    ssize_t n;

    n = weft_udp_sendto(fd, msg, len, server, timeout);
    if (n < 0) {
        fprintf(stderr, "%s: send: %s\n", prog, weft_strerror((int)n));
        return 1;
    }
    for (;;) {
        n = weft_udp_recvfrom(fd, buf, MAX_DGRAM, &from,
                              weft_deadline_remaining_ms(until));
        if (n == -EAGAIN)
            n = -ETIMEDOUT; /* the deadline passed between two datagrams */
        if (n == -ETIMEDOUT) {
            fprintf(stderr, "%s: no answer within %d ms\n", prog, timeout);
            return 1;
        }
        if (n == -ECONNREFUSED) {
            /* The kernel's ICMP "port unreachable": no server there. */
            fprintf(stderr, "%s: no server listening there\n", prog);
            return 1;
        }
        if (n < 0 && n != -EMSGSIZE) {
            fprintf(stderr, "%s: receive: %s\n", prog, weft_strerror((int)n));
            return 1;
        }
        if (same_addr(&from, server))
            break;
    }
    if (n == -EMSGSIZE)
        n = MAX_DGRAM;
    fwrite(buf, 1, (size_t)n, stdout);
    putchar('\n');
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
    int count = DEFAULT_COUNT, timeout = DEFAULT_TIMEOUT, c, fd, rc;
    bool from_stdin = false;
    char *line = NULL, *buf;
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
    fd = weft_udp_socket(&a);
    buf = malloc(MAX_DGRAM);
    if (fd < 0 || buf == NULL) {
        fprintf(stderr, "%s: socket: %s\n", prog,
                weft_strerror(fd < 0 ? fd : -ENOMEM));
        if (fd >= 0)
            close(fd);
        free(buf);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    rc = 0;
    if (from_stdin) {
        while (rc == 0 && (len = getline(&line, &cap, stdin)) > 0) {
            if (line[len - 1] == '\n')
                len--;
            if (len > MAX_DGRAM) {
                fprintf(stderr, "%s: a line over %d bytes\n", prog, MAX_DGRAM);
                rc = 1;
                break;
            }
            rc = exchange(fd, &a, line, (size_t)len, buf, timeout);
        }
        free(line);
    } else {
        for (int i = 0; rc == 0 && i < count; i++) {
            char msg[64];
            int n = snprintf(msg, sizeof msg, "hello %d", i + 1);
            rc = exchange(fd, &a, msg, (size_t)n, buf, timeout);
        }
    }
    free(buf);
    close(fd);
    return rc;
}
