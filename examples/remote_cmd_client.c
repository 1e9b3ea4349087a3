/* remote_cmd_client.c - the client of the remote command server
 * (examples/remote_cmd.c): send a command line, read its framed answer.
 *
 * Python (the course's client, with the sticky-packet fix):
 *     client.send(cmd.encode())
 *     header_len = struct.unpack('i', client.recv(4))[0]
 *     header = json.loads(client.recv(header_len).decode())
 *     size, data = header['file_size'], b''
 *     while len(data) < size:
 *         data += client.recv(size - len(data))
 *     print(data.decode())
 *
 * weft_frame_recv reads the 4-byte length and exactly that much header
 * (refusing a length or a header that is not sane), and leaves the body
 * on the socket; weft_frame_recv_body_cb then streams exactly file_size
 * bytes of it to stdout, whatever their size, chunk by chunk. Whatever
 * follows belongs to the next answer.
 *
 * Run: ./build/examples/remote_cmd_client [--server HOST:PORT]
 *                                         [--timeout MS] [COMMAND... | -]
 *      Each COMMAND operand is one command line; with none (or "-") the
 *      lines of stdin are.
 * Expect, for each command: "$ COMMAND", its output, then "exit code: N"
 * - or "error: WHY" when the server would not or could not run it.
 * The exit status is 0 when every command got an answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <weft/weft.h>

#define DEFAULT_SERVER  "127.0.0.1:9120"
#define DEFAULT_TIMEOUT 30000
#define MAX_BODY        ((uint64_t)64 << 20) /* output we accept */

static const char *prog = "remote_cmd_client";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--server HOST:PORT] [--timeout MS] "
            "[COMMAND... | -]\n"
            "  --server HOST:PORT  the remote_cmd server (default %s)\n"
            "  --timeout MS        for connecting and each answer (default "
            "%d)\n"
            "  COMMAND             a command line (quote it); none or -:\n"
            "                      the lines of stdin\n",
            prog, DEFAULT_SERVER, DEFAULT_TIMEOUT);
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

/* True if s[0..len) holds only blanks: the server would not answer. */
static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Body chunks go straight to stdout; last remembers the final byte. */
static int to_stdout(void *ud, const void *chunk, size_t n)
{
    char *last = ud;

    if (n == 0)
        return 0;
    if (fwrite(chunk, 1, n, stdout) != n)
        return -EIO;
    *last = ((const char *)chunk)[n - 1];
    return 0;
}

/* Send one command line and print its answer: 0, or 1 after saying why
 * not (the connection is then of no more use). */
static int run_remote(int fd, const char *cmd, size_t len, int timeout)
{
    static const weft_frame_limits lim = {0, MAX_BODY};
    json_t *h = NULL, *code, *err;
    uint64_t body_len;
    char last = '\n';
    int rc;

    printf("$ %.*s\n", (int)len, cmd);
    /* As the course's client: the text alone, in one send. */
    rc = weft_write_all(fd, cmd, len, NULL, timeout);
    if (rc == 0)
        rc = weft_frame_recv(fd, &lim, &h, &body_len, timeout);
    if (rc == 0 && body_len > 0)
        rc = weft_frame_recv_body_cb(fd, body_len, to_stdout, &last, timeout);
    if (rc < 0) {
        fflush(stdout);
        fprintf(stderr, "%s: %s\n", prog,
                rc == WEFT_ECLOSED ? "the server closed the connection"
                                   : weft_strerror(rc));
        json_decref(h);
        return 1;
    }
    if (last != '\n')
        putchar('\n');
    err = json_object_get(h, "error");
    code = json_object_get(h, "exit_code");
    if (json_is_string(err))
        printf("error: %s\n", json_string_value(err));
    if (json_is_integer(code))
        printf("exit code: %lld\n", (long long)json_integer_value(code));
    else if (!json_is_string(err))
        printf("error: an answer without exit_code or error\n");
    json_decref(h);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = DEFAULT_SERVER;
    int timeout = DEFAULT_TIMEOUT, c, fd, rc;
    bool from_stdin;
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
    from_stdin = optind == argc;
    if (optind < argc && strcmp(argv[optind], "-") == 0) {
        if (optind + 1 < argc) {
            fprintf(stderr, "%s: '-' (stdin) takes no commands after it\n",
                    prog);
            return 2;
        }
        from_stdin = true;
    }
    for (int i = optind; !from_stdin && i < argc; i++) {
        if (blank(argv[i], strlen(argv[i])) || strchr(argv[i], '\n')) {
            fprintf(stderr, "%s: a command must be one non-empty line\n", prog);
            return 2;
        }
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
        while (rc == 0 && (len = getline(&line, &cap, stdin)) > 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (!blank(line, (size_t)len)) /* a blank line is none */
                rc = run_remote(fd, line, (size_t)len, timeout);
        }
        free(line);
    } else {
        for (int i = optind; rc == 0 && i < argc; i++)
            rc = run_remote(fd, argv[i], strlen(argv[i]), timeout);
    }
    close(fd);
    return rc;
}
