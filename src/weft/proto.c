/* proto.c - the weft client's side of weftd's protocol (docs/PROTOCOL.md):
 * connecting and saying hello, sending requests, receiving replies, and
 * turning every failure into one line on stderr and an exit code.
 *
 * The connection is one framed stream (weft/frame.h). Any I/O error on it
 * - a timeout, a lost connection, a reply that breaks the frame rules -
 * leaves the stream's framing unknown, so the connection is closed; the
 * shell connects again for its next command.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <weft/frame.h>
#include <weft/net.h>

#include "cli.h"

/* How long quit's answer is awaited when closing: closing is not worth a
 * long wait. */
#define QUIT_WAIT_MS 1000

int cli_fail(int code, const char *what, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (what != NULL)
        fprintf(stderr, "weft: %s: %s\n", what, msg);
    else
        fprintf(stderr, "weft: %s\n", msg);
    return code;
}

int cli_errno_exit(int err)
{
    switch (-err) {
    case ENOENT:
        return CLI_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return CLI_DENIED;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return CLI_SPACE;
    case EEXIST:
    case EISDIR:
    case ENOTDIR:
    case ENOTEMPTY:
        return CLI_CONFLICT;
    default:
        return CLI_ERR;
    }
}

int cli_conn_fail(cli_session *s, const char *what, int rc, const char *note)
{
    int code = CLI_CONN;
    const char *msg;
    switch (rc) {
    case -ETIMEDOUT:
    case -EAGAIN:
        msg = "timed out waiting for the server";
        break;
    case WEFT_ECLOSED:
    case WEFT_ETRUNCATED:
    case -EPIPE:
    case -ECONNRESET:
        msg = "connection lost";
        break;
    case WEFT_EHDRLEN:
    case WEFT_EHDRJSON:
    case WEFT_EBODYSIZE:
        code = CLI_ERR;
        msg = "the server's reply breaks the protocol";
        break;
    default:
        msg = weft_strerror(rc);
        break;
    }
    cli_close(s, false);
    return cli_fail(code, what, "%s%s", msg, note != NULL ? note : "");
}

/* The server's error codes (docs/PROTOCOL.md, "Replies"): the exit code,
 * the words printed, and whether the server's own message adds
 * something worth printing after them. */
static const struct {
    const char *error;
    int code;
    const char *text;
    bool detail;
} server_errors[] = {
    {"not_found", CLI_NOTFOUND, "not found", false},
    {"bad_path", CLI_CONFLICT, "bad path", true},
    {"exists", CLI_CONFLICT, "already exists", false},
    {"not_a_directory", CLI_CONFLICT, "not a folder", false},
    {"is_a_directory", CLI_CONFLICT, "is a folder", false},
    {"not_empty", CLI_CONFLICT, "folder not empty", false},
    {"offset", CLI_CONFLICT, "resume offset refused", true},
    {"read_only", CLI_DENIED, "read-only", false},
    {"auth_required", CLI_AUTH,
     "login required (--user NAME or WEFT_USER, and WEFT_PASSWORD)", false},
    {"auth_failed", CLI_AUTH, "login failed: wrong user or password", false},
    {"rate_limited", CLI_AUTH, "too many failed logins", true},
    {"too_large", CLI_SPACE, "too large for the server", true},
    {"quota", CLI_SPACE, "over the server's quota", false},
    {"no_space", CLI_SPACE, "no space left on the server", false},
    {"checksum", CLI_CHECKSUM, "checksum mismatch", false},
    {"busy", CLI_CONN, "server busy (at its connection limit)", false},
    {"tls_required", CLI_CONN,
     "plain connections are for the server's own machine: use --tls", false},
    {"version", CLI_ERR, "no protocol version in common", false},
    {"unknown_command", CLI_ERR, "command unknown to the server", false},
    {"bad_request", CLI_ERR, "bad request", true},
    {"internal", CLI_ERR, "server error", true},
};

int cli_reply_error(cli_session *s, const char *what, json_t *reply)
{
    const char *error = cli_get_str(reply, "error");
    const char *message = cli_get_str(reply, "message");
    if (s->json)
        cli_print_json(reply);
    for (size_t i = 0;
         error != NULL && i < sizeof server_errors / sizeof server_errors[0];
         i++) {
        if (strcmp(error, server_errors[i].error) != 0)
            continue;
        if (server_errors[i].detail && message != NULL)
            return cli_fail(server_errors[i].code, what, "%s (%s)",
                            server_errors[i].text, message);
        return cli_fail(server_errors[i].code, what, "%s",
                        server_errors[i].text);
    }
    /* A code newer than this client: say what the server said. */
    return cli_fail(CLI_ERR, what, "%s%s%s", error != NULL ? error : "refused",
                    message != NULL ? ": " : "",
                    message != NULL ? message : "");
}

void cli_print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text != NULL) {
        printf("%s\n", text);
        free(text);
    }
    fflush(stdout);
}

int64_t cli_get_int(json_t *obj, const char *key, int64_t fallback)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fallback;
    return (int64_t)json_integer_value(v);
}

const char *cli_get_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

#define PASSWORD_MAX 1024

void cli_forget_password(cli_session *s)
{
    if (s->password == NULL)
        return;
    /* volatile: the wipe must not be optimised away. */
    for (volatile char *p = s->password; *p != '\0'; p++)
        *p = '\0';
    free(s->password);
    s->password = NULL;
}

/* The password: $WEFT_PASSWORD, or asked on the terminal without echo.
 * CLI_OK with s->password set, or a failure (printed). */
static int get_password(cli_session *s, const char *what)
{
    const char *env = getenv("WEFT_PASSWORD");
    if (env != NULL) {
        s->password = strdup(env);
        return s->password != NULL ? CLI_OK
                                   : cli_fail(CLI_ERR, NULL, "out of memory");
    }
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios old, quiet;
    if (tty < 0 || tcgetattr(tty, &old) < 0) {
        if (tty >= 0)
            close(tty);
        return cli_fail(CLI_AUTH, what,
                        "a password is wanted for %s: set WEFT_PASSWORD "
                        "(no terminal to ask on)",
                        s->user);
    }
    char prompt[200];
    int n = snprintf(prompt, sizeof prompt, "Password for %s at %s: ", s->user,
                     s->server);
    if (n > 0 && write(tty, prompt, (size_t)n) < 0)
        n = 0;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    tcsetattr(tty, TCSAFLUSH, &quiet);
    char *pw = calloc(1, PASSWORD_MAX + 1);
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t r = read(tty, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (pw != NULL && len < PASSWORD_MAX)
            pw[len++] = c;
    }
    tcsetattr(tty, TCSAFLUSH, &old);
    close(tty);
    if (pw == NULL)
        return cli_fail(CLI_ERR, NULL, "out of memory");
    if (len > 0 && pw[len - 1] == '\r')
        pw[--len] = '\0';
    s->password = pw;
    return CLI_OK;
}

/* hello: protocol version 1, and a login when a user is given. */
static int hello(cli_session *s, const char *what)
{
    json_t *req = json_pack("{s:s, s:[i], s:s}", "cmd", "hello", "versions", 1,
                            "client", "weft/" WEFT_VERSION_STRING);
    if (req == NULL)
        return cli_fail(CLI_ERR, NULL, "out of memory");
    if (s->user != NULL && *s->user != '\0') {
        if (s->password == NULL) {
            int code = get_password(s, what);
            if (code != CLI_OK) {
                json_decref(req);
                return code;
            }
        }
        json_object_set_new(req, "user", json_string(s->user));
        json_object_set_new(req, "password", json_string(s->password));
    }
    json_t *reply = NULL;
    int code = cli_send(s, what, req);
    if (code == CLI_OK)
        code = cli_recv(s, what, &reply, NULL);
    /* A wrong password is not asked for again at each reconnection. */
    if (code == CLI_AUTH)
        cli_forget_password(s);
    json_decref(req);
    json_decref(reply);
    return code;
}

/* The host part of "HOST:PORT" or "[V6]:PORT", for checking the
 * server's certificate: 0, or -1 if it does not fit. */
static int server_host(const char *server, char *host, size_t cap)
{
    const char *end;
    if (server[0] == '[') {
        server++;
        end = strchr(server, ']');
    } else {
        end = strrchr(server, ':');
    }
    if (end == NULL || (size_t)(end - server) >= cap)
        return -1;
    memcpy(host, server, (size_t)(end - server));
    host[end - server] = '\0';
    return 0;
}

/* TLS over the connected socket fd: the handshake, checking the server's
 * certificate for its name, then the pump; s->fd becomes the pump's end.
 * CLI_OK, or a failure (printed; fd is closed). */
static int start_tls(cli_session *s, const char *what, int fd)
{
    char err[WEFT_TLS_ERR_MAX], host[256];

    if (s->tls_ctx == NULL &&
        weft_tls_client_ctx(&s->tls_ctx, s->tls_ca, err, sizeof err) < 0) {
        close(fd);
        return cli_fail(CLI_USAGE, what, "TLS: %s", err);
    }
    if (server_host(s->server, host, sizeof host) < 0) {
        close(fd);
        return cli_fail(CLI_USAGE, what, "bad server address '%s'", s->server);
    }
    if (weft_tls_connect(&s->pump, s->tls_ctx, fd, host, s->timeout_ms,
                         s->timeout_ms, err, sizeof err) < 0) {
        close(fd);
        return cli_fail(CLI_CONN, what, "%s: %s", s->server, err);
    }
    s->sock = fd;
    s->fd = weft_tls_fd(s->pump);
    return CLI_OK;
}

int cli_connect(cli_session *s, const char *what)
{
    if (s->fd >= 0) {
        /* Between commands the server says nothing, so a readable
         * connection is one it closed (its idle timeout): replace it. */
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 0)
            return CLI_OK;
        cli_close(s, false);
    }
    weft_addr a;
    int rc = weft_addr_parse(&a, s->server);
    if (rc == -ENOENT)
        return cli_fail(CLI_CONN, what, "cannot resolve %s", s->server);
    if (rc < 0)
        return cli_fail(CLI_USAGE, what, "bad server address '%s'", s->server);
    int fd = weft_connect(&a, s->timeout_ms);
    if (fd < 0)
        return cli_fail(CLI_CONN, what, "cannot connect to %s: %s", s->server,
                        weft_strerror(fd));
    if (s->tls) {
        int code = start_tls(s, what, fd);
        if (code != CLI_OK)
            return code;
    } else {
        s->fd = fd;
    }
    int code = hello(s, what);
    if (code != CLI_OK)
        cli_close(s, false);
    return code;
}

void cli_close(cli_session *s, bool say_quit)
{
    if (s->fd < 0)
        return;
    if (say_quit) {
        json_t *req = json_pack("{s:s}", "cmd", "quit");
        json_t *reply = NULL;
        uint64_t len;
        /* Best effort: the answer only tells us the server saw it. */
        if (req != NULL &&
            weft_frame_send(s->fd, req, NULL, 0, QUIT_WAIT_MS) == 0 &&
            weft_frame_recv(s->fd, NULL, &reply, &len, QUIT_WAIT_MS) == 0)
            json_decref(reply);
        json_decref(req);
    }
    if (s->pump != NULL) {
        /* Closing the pump closes s->fd; the socket under it is ours. */
        weft_tls_close(s->pump, 0, NULL, 0);
        s->pump = NULL;
        close(s->sock);
        s->sock = -1;
    } else {
        close(s->fd);
    }
    s->fd = -1;
}

int cli_send(cli_session *s, const char *what, json_t *req)
{
    if (req == NULL)
        return cli_fail(CLI_ERR, what, "out of memory");
    int rc = weft_frame_send(s->fd, req, NULL, 0, s->timeout_ms);
    return rc < 0 ? cli_conn_fail(s, what, rc, NULL) : CLI_OK;
}

int cli_recv_any(cli_session *s, const char *what, json_t **reply,
                 uint64_t *body_len)
{
    /* Bodies may be larger than the frame layer's default 1 GiB limit:
     * files are streamed, never held, and listings are capped by the
     * caller. */
    weft_frame_limits lim = {.max_body = (uint64_t)INT64_MAX};
    json_t *h = NULL;
    uint64_t len = 0;
    *reply = NULL;
    int rc = weft_frame_recv(s->fd, &lim, &h, &len, s->timeout_ms);
    if (rc < 0)
        return cli_conn_fail(s, what, rc, NULL);
    json_t *ok = json_object_get(h, "ok");
    if (!json_is_boolean(ok) ||
        (len > 0 && (body_len == NULL || !json_is_true(ok)))) {
        /* A body nobody expects cannot be skipped cheaply: give up the
         * connection rather than read it. */
        json_decref(h);
        cli_close(s, false);
        return cli_fail(CLI_ERR, what, "unexpected reply from the server");
    }
    *reply = h;
    if (body_len != NULL)
        *body_len = len;
    return CLI_OK;
}

int cli_recv(cli_session *s, const char *what, json_t **reply,
             uint64_t *body_len)
{
    json_t *h;
    int code = cli_recv_any(s, what, &h, body_len);
    *reply = NULL;
    if (code != CLI_OK)
        return code;
    if (!json_is_true(json_object_get(h, "ok"))) {
        code = cli_reply_error(s, what, h);
        const char *error = cli_get_str(h, "error");
        /* busy: the server closes after saying so. */
        if (error != NULL && strcmp(error, "busy") == 0)
            cli_close(s, false);
        json_decref(h);
        return code;
    }
    *reply = h;
    return CLI_OK;
}

int cli_call(cli_session *s, const char *what, json_t *req, json_t **reply,
             uint64_t *body_len)
{
    *reply = NULL;
    int code = cli_connect(s, what);
    if (code == CLI_OK)
        code = cli_send(s, what, req);
    if (code == CLI_OK)
        code = cli_recv(s, what, reply, body_len);
    return code;
}
