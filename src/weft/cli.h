/* cli.h - private to the weft client (src/weft/): the session it keeps
 * with weftd, its exit codes, and what its files share.
 *
 *   main.c      global options and dispatch to a command
 *   proto.c     connecting, hello, requests and replies, error lines
 *   cmds.c      the command table, argument helpers, ls, stat, rm, mkdir
 *   transfer.c  get and put: SHA-256, resume, .part files
 *   progress.c  the progress bar, human-readable sizes and times
 *   shell.c     `weft shell`: the same commands at a prompt
 *
 * Every function that runs a command returns the program's exit code
 * (CLI_OK or one of the failures below), having printed the one line on
 * stderr that says why. docs/weft.md documents the codes.
 */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <weft/core.h>
#include <weft/tls.h>

/* Exit codes: stable, documented in docs/weft.md and `weft --help`. */
enum cli_exit {
    CLI_OK = 0,       /* done */
    CLI_ERR = 1,      /* any other error (local I/O, server error, ...) */
    CLI_USAGE = 2,    /* bad command line */
    CLI_CONN = 3,     /* cannot connect, connection lost, timeout, busy */
    CLI_NOTFOUND = 4, /* no such file or folder (remote or local) */
    CLI_DENIED = 5,   /* read-only, permission */
    CLI_CHECKSUM = 6, /* SHA-256 mismatch (download or upload) */
    CLI_SPACE = 7,    /* too large, quota, no space (either side) */
    CLI_CONFLICT = 8, /* exists, not empty, wrong kind, bad path, offset */
    CLI_AUTH = 9,     /* login required, failed or rate-limited */
};

#define CLI_DEFAULT_SERVER  "127.0.0.1:9000"
#define CLI_DEFAULT_TIMEOUT 30000 /* ms */

/* One connection to weftd and the options that shape the output. */
typedef struct cli_session {
    const char *server; /* "HOST:PORT" (not owned) */
    int timeout_ms;     /* connect, each reply, each step of a transfer */
    bool json;          /* print replies as JSON on stdout */
    bool progress;      /* draw progress bars (stderr is a terminal) */
    int fd;             /* the connection, or -1 */
    const char *user;   /* --user or $WEFT_USER: log in as (not owned) */
    char *password;     /* asked once, kept for reconnections (owned) */
    /* TLS (--tls, --tls-ca): the protocol reads and writes fd, the TLS
     * pump's end of a socket pair (libweft's weft/tls.h); sock is the TCP
     * socket under it. Without TLS, fd is the socket and sock -1. */
    bool tls;
    const char *tls_ca;    /* trust this PEM, not the system's CAs */
    weft_tls_ctx *tls_ctx; /* made at the first connection */
    weft_tls_conn *pump;
    int sock;
} cli_session;

/* ---- proto.c ------------------------------------------------------------ */

/* Print "weft: WHAT: MESSAGE" on stderr (WHAT may be NULL) and return
 * code. */
int cli_fail(int code, const char *what, const char *fmt, ...)
    WEFT_PRINTF(3, 4);
/* The exit code for a local error (a negative errno value). */
int cli_errno_exit(int err);
/* Report rc, an error of I/O on the connection (with note after it when
 * not NULL), close the connection and return the exit code (CLI_CONN for
 * timeouts and lost connections). */
int cli_conn_fail(cli_session *s, const char *what, int rc, const char *note);
/* Connect and say hello, unless connected already: CLI_OK or a failure
 * (printed after what, the command). A connection the server has closed
 * meanwhile (its idle timeout) is noticed and replaced. */
int cli_connect(cli_session *s, const char *what);
/* Forget the password (wiped). */
void cli_forget_password(cli_session *s);
/* Close the connection, first sending quit (and reading its answer) when
 * say_quit. A no-op when not connected. */
void cli_close(cli_session *s, bool say_quit);
/* Send req (a header without body): CLI_OK or a failure (printed). */
int cli_send(cli_session *s, const char *what, json_t *req);
/* Receive a reply header. CLI_OK with *reply (decref it) and *body_len
 * when "ok" is true; otherwise the failure, printed (and in --json mode
 * the reply printed on stdout), with *reply NULL. */
int cli_recv(cli_session *s, const char *what, json_t **reply,
             uint64_t *body_len);
/* Receive a reply header whatever its "ok": CLI_OK with *reply, or a
 * failure of the connection (printed). */
int cli_recv_any(cli_session *s, const char *what, json_t **reply,
                 uint64_t *body_len);
/* cli_connect, cli_send, cli_recv in one. */
int cli_call(cli_session *s, const char *what, json_t *req, json_t **reply,
             uint64_t *body_len);
/* The exit code for an "ok": false reply, printed as cli_recv does. */
int cli_reply_error(cli_session *s, const char *what, json_t *reply);
/* Print j on stdout as one line of compact JSON. */
void cli_print_json(json_t *j);
/* Members of a reply: the integer (>= 0) or string at key, or the
 * fallback / NULL when absent or of another type. */
int64_t cli_get_int(json_t *obj, const char *key, int64_t fallback);
const char *cli_get_str(json_t *obj, const char *key);

/* ---- cmds.c ------------------------------------------------------------- */

typedef struct cli_command {
    const char *name;
    int (*run)(cli_session *s, int argc, char **argv); /* argv[0]: name */
    const char *args;                                  /* usage after name */
    const char *summary;
} cli_command;

#define CLI_WHAT_MAX 4400 /* "get " + a 4,096-byte path, and more */

/* "CMD ARG" into buf (CLI_WHAT_MAX bytes), for error lines; buf. */
const char *cli_what(char *buf, const char *cmd, const char *arg);
/* Print "weft: CMD: WHY" and the command's usage line: CLI_USAGE. */
int cli_usage(const char *cmd, const char *why);
/* Start getopt_long afresh on a command's argv, quietly. */
void cli_opts_reset(void);
/* The usage error for the option getopt_long just refused. */
int cli_bad_option(char **argv);
/* The last component of a path ("a.txt" of "notes/a.txt"). */
const char *cli_base_name(const char *path);
bool cli_ends_with_slash(const char *s);

/* transfer.c */
int cli_cmd_get(cli_session *s, int argc, char **argv);
int cli_cmd_put(cli_session *s, int argc, char **argv);

/* The command called name, or NULL. */
const cli_command *cli_command_find(const char *name);
/* Run argv[0] with its arguments: its exit code (CLI_USAGE for an unknown
 * command). */
int cli_command_run(cli_session *s, int argc, char **argv);
/* The commands' usage lines, indented, for --help and the shell's help. */
void cli_commands_help(FILE *f);

/* ---- progress.c --------------------------------------------------------- */

/* A progress bar on stderr: label, bar, percent, rate, time left. */
typedef struct cli_progress {
    bool on;           /* drawing at all */
    const char *label; /* not owned */
    uint64_t total;    /* bytes in all */
    uint64_t done;     /* bytes done, including start */
    uint64_t start;    /* bytes there before (a resume): not in the rate */
    int64_t t0_ns;     /* when it started */
    int64_t last_ns;   /* when it was last drawn */
} cli_progress;

void cli_progress_begin(cli_progress *p, bool on, const char *label,
                        uint64_t start, uint64_t total);
void cli_progress_add(cli_progress *p, uint64_t n);
/* End the bar's line, drawing the final state first when ok. */
void cli_progress_end(cli_progress *p, bool ok);
/* "512 B", "1.5 KiB", "3.0 MiB" into buf. */
void cli_human_size(uint64_t n, char *buf, size_t cap);
/* Seconds since 1970 as local "YYYY-MM-DD HH:MM" (with ":SS" if
 * seconds), into buf. */
void cli_human_time(int64_t t, bool seconds, char *buf, size_t cap);

/* ---- shell.c ------------------------------------------------------------ */

/* Set by Ctrl-C in an interactive shell: transfers stop at their next
 * chunk. Always 0 outside the shell. */
extern volatile sig_atomic_t cli_interrupted;

/* `weft shell`: read commands from stdin (libedit on a terminal, plain
 * lines otherwise) until quit or end of input. The exit code of the last
 * command that failed, or CLI_OK. */
int cli_shell(cli_session *s, int argc, char **argv);

#endif
