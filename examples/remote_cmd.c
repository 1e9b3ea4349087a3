/* remote_cmd.c - the course's remote command server, with its answers
 * framed: run the command a client sends, return its output as one frame.
 *
 * Python (the course's server, with the sticky-packet fix):
 *     while True:
 *         cmd = conn.recv(1024).decode()
 *         if not cmd: break
 *         res = subprocess.Popen(cmd, shell=True, stdout=PIPE, stderr=PIPE)
 *         out = res.stdout.read() + res.stderr.read()
 *         header = json.dumps({'file_size': len(out)}).encode()
 *         conn.send(struct.pack('i', len(header)))
 *         conn.send(header)
 *         conn.send(out)
 *
 * The output of a command can be any length, so the answer says how long
 * it is before it is sent (weft/frame.h): 4 bytes of header length, a
 * JSON header {"command": ..., "exit_code": N, "file_size": S}, then the
 * S bytes of output (stdout and stderr merged). The client reads exactly
 * those, and the next answer cannot stick to this one.
 *
 * The command itself travels as the course sends it: plain text, one
 * send per command, read with one weft_request_recv. A chunk that holds
 * several lines is taken as several commands, each answered by its own
 * frame; a chunk that fills the whole 4 KiB buffer without ending a line
 * is refused (where its last command ends is unknown) and the connection
 * closed. A connection serves command after command until the client
 * closes.
 *
 * Running what a network peer sends is remote code execution, so by
 * default only a short list of harmless programs may run (date, df,
 * echo, false, free, hostname, id, ls, pwd, true, uname, uptime, whoami),
 * with argv split on blanks and no shell; date takes only "+FORMAT" and
 * "-u" (it could set the clock), hostname and a few others no arguments.
 * Anything else is answered with a frame whose header has "error" (e.g.
 * "command not allowed: rm"), and the connection stays usable. Commands
 * run through weft/command.h (posix_spawn, output through pipes, killed
 * after --cmd-timeout). --unsafe-allow-any runs every line through
 * /bin/sh -c, as the course does: only on a trusted machine, and the
 * server binds 127.0.0.1 by default for that reason.
 *
 * Any model works, but weft/command.h waits for a command with poll(),
 * not by yielding: in the coroutine model a running command holds up
 * every connection of its scheduler thread. The default is thread.
 *
 * Run: ./build/examples/remote_cmd [--listen HOST:PORT] [--model NAME]
 *                                  [--cmd-timeout MS] [--unsafe-allow-any]
 *      then: ./build/examples/remote_cmd_client "uname -s" "ls /" rm
 * Expect: "listening on 127.0.0.1:9120"; one line per command run
 * ("127.0.0.1:PORT $ uname -s -> exit 0"); the client prints each
 * output and its exit code, and "error: command not allowed: rm".
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <weft/weft.h>
#include <weft/server.h>

#define DEFAULT_LISTEN  "127.0.0.1:9120"
#define DEFAULT_MODEL   "thread"
#define DEFAULT_TIMEOUT 10000      /* ms a command may run */
#define LINE_MAX_BYTES  4096       /* the longest command line */
#define MAX_ARGS        64         /* words of a command line */
#define OUTPUT_MAX      (1u << 20) /* output returned; more is cut */

static const char *prog = "remote_cmd";

/* What a program on the allow-list may be given. */
enum args_policy {
    ARGS_ANY,  /* any arguments: the program only reports */
    ARGS_NONE, /* none: with arguments it could change something */
    ARGS_DATE  /* "+FORMAT" and "-u" only: date can set the clock */
};

static const struct allowed {
    const char *name;
    enum args_policy args;
} allow_list[] = {
    {"date", ARGS_DATE},   {"df", ARGS_ANY},    {"echo", ARGS_ANY},
    {"false", ARGS_NONE},  {"free", ARGS_ANY},  {"hostname", ARGS_NONE},
    {"id", ARGS_ANY},      {"ls", ARGS_ANY},    {"pwd", ARGS_NONE},
    {"true", ARGS_NONE},   {"uname", ARGS_ANY}, {"uptime", ARGS_ANY},
    {"whoami", ARGS_NONE},
};

struct config {
    int cmd_timeout_ms;
    bool allow_any; /* --unsafe-allow-any: through /bin/sh -c */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--listen HOST:PORT] [--model NAME] "
            "[--cmd-timeout MS]\n"
            "          [--unsafe-allow-any]\n"
            "  --listen HOST:PORT  where to listen (default %s; port 0: any)\n"
            "  --model NAME        serial, fork, thread, prefork, threadpool\n"
            "                      or coroutine (default %s)\n"
            "  --cmd-timeout MS    kill a command after MS (default %d)\n"
            "  --unsafe-allow-any  run any command line with /bin/sh -c\n"
            "                      (default: an allow-list, no shell)\n",
            prog, DEFAULT_LISTEN, DEFAULT_MODEL, DEFAULT_TIMEOUT);
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

/* Split line (modified in place) into argv on blanks: the count, or -1
 * for more than MAX_ARGS words. */
static int split(char *line, char *argv[MAX_ARGS + 1])
{
    int argc = 0;
    char *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            break;
        if (argc == MAX_ARGS)
            return -1;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
    argv[argc] = NULL;
    return argc;
}

/* NULL if argv may run, else why not (into why[0..cap)). */
static const char *refuse(char *const argv[], int argc, char *why, size_t cap)
{
    const struct allowed *a = NULL;

    for (size_t i = 0; i < sizeof allow_list / sizeof allow_list[0]; i++)
        if (strcmp(argv[0], allow_list[i].name) == 0)
            a = &allow_list[i];
    if (a == NULL) {
        snprintf(why, cap, "command not allowed: %s", argv[0]);
        return why;
    }
    for (int i = 1; i < argc; i++) {
        if (a->args == ARGS_ANY ||
            (a->args == ARGS_DATE &&
             (argv[i][0] == '+' || strcmp(argv[i], "-u") == 0)))
            continue;
        snprintf(why, cap, "argument not allowed for %s: %s", argv[0], argv[i]);
        return why;
    }
    return NULL;
}

/* Run one command line and answer it with one frame: 0, or a negative
 * errno value if the answer could not be sent (the connection is then of
 * no more use). */
static int answer(weft_request *req, const struct config *cfg, const char *line,
                  size_t len)
{
    char copy[LINE_MAX_BYTES + 1], why[160], peer[WEFT_ADDR_TEXT_MAX];
    char *argv[MAX_ARGS + 1];
    const char *err = NULL;
    weft_command_opts co = {.stdin_mode = WEFT_STDIO_NULL,
                            .stdout_mode = WEFT_STDIO_PIPE,
                            .stderr_mode = WEFT_STDIO_STDOUT};
    weft_buf out;
    json_t *h = json_object(), *cmd;
    int argc = 0, code = 0, rc;

    if (h == NULL)
        return -ENOMEM;
    weft_buf_init(&out, OUTPUT_MAX);
    /* json_stringn refuses what is not UTF-8 (and a NUL inside). */
    cmd = memchr(line, '\0', len) ? NULL : json_stringn(line, len);
    if (cmd == NULL)
        err = "the command is not UTF-8 text";
    else
        json_object_set_new(h, "command", cmd);
    if (err == NULL) {
        memcpy(copy, line, len);
        copy[len] = '\0';
        if (cfg->allow_any) {
            argv[0] = "/bin/sh";
            argv[1] = "-c";
            argv[2] = copy;
            argv[3] = NULL;
        } else if ((argc = split(copy, argv)) < 0) {
            err = "too many words";
        } else {
            err = refuse(argv, argc, why, sizeof why);
        }
    }
    if (err == NULL) {
        rc = weft_command_run((const char *const *)argv, &co, NULL, 0, &out,
                              NULL, cfg->cmd_timeout_ms, &code);
        if (rc == 0) {
            json_object_set_new(h, "exit_code", json_integer(code));
        } else if (rc == -ETIMEDOUT) {
            snprintf(why, sizeof why, "timed out after %d ms: killed",
                     cfg->cmd_timeout_ms);
            err = why;
        } else if (rc == -EMSGSIZE) {
            snprintf(why, sizeof why, "output over %u bytes: cut, killed",
                     OUTPUT_MAX);
            err = why;
        } else {
            snprintf(why, sizeof why, "cannot run %s: %s", argv[0],
                     weft_strerror(rc));
            err = why;
        }
    }
    if (err != NULL)
        json_object_set_new(h, "error", json_string(err));

    if (weft_addr_format(weft_request_peer(req), peer, sizeof peer) < 0)
        snprintf(peer, sizeof peer, "?");
    if (err == NULL)
        printf("%s $ %.*s -> exit %d\n", peer, (int)len, line, code);
    else
        printf("%s $ %.*s -> %s\n", peer, cmd ? (int)len : 0, line, err);

    rc = weft_frame_send(weft_request_fd(req), h, out.data, out.len,
                         weft_request_io_timeout(req));
    json_decref(h);
    weft_buf_free(&out);
    return rc;
}

/* One connection: each chunk the client sends holds one command line or
 * several; answer each, until the client closes. */
static void handle(weft_request *req, void *arg)
{
    const struct config *cfg = arg;
    char buf[LINE_MAX_BYTES], peer[WEFT_ADDR_TEXT_MAX];
    ssize_t n;
    int rc = 0;

    while (rc == 0 && (n = weft_request_recv(req, buf, sizeof buf)) > 0) {
        char *p = buf, *end = buf + n;
        if (n == (ssize_t)sizeof buf && buf[n - 1] != '\n') {
            /* A full buffer that does not end a line: where the last
             * command ends is unknown. Say so and hang up. */
            json_t *h = json_pack("{s:s}", "error", "command line too long");
            weft_frame_send(weft_request_fd(req), h, NULL, 0,
                            weft_request_io_timeout(req));
            json_decref(h);
            return;
        }
        while (rc == 0 && p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *stop = nl ? nl : end;
            size_t len;
            /* Trim blanks and the \r of a CRLF at both ends. */
            while (p < stop && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
            len = (size_t)(stop - p);
            while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
                               p[len - 1] == '\r'))
                len--;
            if (len > 0)
                rc = answer(req, cfg, p, len);
            p = stop + 1;
        }
    }
    if (rc == 0 && n < 0)
        rc = (int)n;
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
        {"cmd-timeout", required_argument, NULL, 't'},
        {"unsafe-allow-any", no_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static struct config cfg = {DEFAULT_TIMEOUT, false};
    const char *listen = DEFAULT_LISTEN;
    weft_server_opts so = {.handler = handle, .arg = &cfg};
    weft_server *srv = NULL;
    char text[WEFT_ADDR_TEXT_MAX];
    weft_addr a;
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
            break;
        case 't':
            if (parse_int(optarg, 1, 3600000, &cfg.cmd_timeout_ms) < 0) {
                fprintf(stderr, "%s: --cmd-timeout: 1..3600000 ms\n", prog);
                return 2;
            }
            break;
        case 'U':
            cfg.allow_any = true;
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
    if (cfg.allow_any)
        fprintf(stderr,
                "%s: warning: --unsafe-allow-any: every client may "
                "run any shell command as this user\n",
                prog);
    if (weft_server_addr(srv, 0, &a) == 0 &&
        weft_addr_format(&a, text, sizeof text) > 0)
        printf("listening on %s\n", text);
    else
        printf("listening on %s\n", listen);
    fflush(stdout);

    rc = weft_server_run(srv);
    weft_server_destroy(srv);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, weft_strerror(rc));
        return 1;
    }
    return 0;
}
