/* main.c - weftd, the file server: start-up and shut-down.
 *
 * Reads the options (config.c), opens or creates the library folder,
 * listens (or adopts systemd's sockets), and runs the handler (proto.c)
 * in the chosen concurrency model until SIGTERM or SIGINT, which libweft's
 * server turns into a graceful stop.
 *
 * Exit status: 0 after a clean stop (and for --help, --version), 2 for a
 * bad option, 1 when it cannot start (port in use, root not a folder...);
 * each failure is one line on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weftd.h"

#define DEFAULT_ROOT   "./library"
#define DEFAULT_LISTEN "127.0.0.1:9000"
#define DEFAULT_MODEL  "coroutine"
#define SD_FDS_START   3
#define STACK_SIZE     (256u * 1024) /* coroutine model: per connection */

static const char readme[] =
    "This folder is a weftd library: weftd serves what is in it.\n"
    "Clients list, download (get), upload (put), delete and make folders\n"
    "here; names starting with .weft are weftd's own (partial uploads).\n"
    "See docs/weftd.md.\n";

/* systemd's socket activation, as sd_listen_fds(3) does it: the number of
 * descriptors passed from 3 on, if they are meant for this process. The
 * variables are removed so children do not take them for theirs. */
static int listen_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    char *end;
    long p, n;

    if (pid == NULL || fds == NULL)
        return 0;
    errno = 0;
    p = strtol(pid, &end, 10);
    if (errno != 0 || *end != '\0' || p != (long)getpid())
        return 0;
    n = strtol(fds, &end, 10);
    if (errno != 0 || *end != '\0' || n <= 0 || n > 64)
        return 0;
    for (int fd = SD_FDS_START; fd < SD_FDS_START + n; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

/* Open the library, creating it (with a README) if it does not exist:
 * the descriptor, or -1 after printing why. */
static int open_root(const char *root)
{
    struct stat st;

    if (stat(root, &st) < 0 && errno == ENOENT) {
        if (mkdir(root, 0755) < 0) {
            fprintf(stderr, "weftd: cannot create the library %s: %s\n", root,
                    strerror(errno));
            return -1;
        }
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rfd = fd >= 0
                      ? openat(fd, "README.txt",
                               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
                      : -1;
        if (rfd >= 0) {
            if (write(rfd, readme, sizeof readme - 1) < 0)
                fprintf(stderr, "weftd: writing %s/README.txt: %s\n", root,
                        strerror(errno));
            close(rfd);
        }
        if (fd >= 0)
            close(fd);
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "weftd: the library %s: %s\n", root,
                errno == ENOTDIR ? "not a folder" : strerror(errno));
        return -1;
    }
    return fd;
}

/* 1 if only this machine can reach a (loopback or unix socket). */
static int is_local(const weft_addr *a)
{
    const struct sockaddr_storage *ss = &a->ss;
    if (ss->ss_family == AF_UNIX)
        return 1;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
               in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

/* Serve with the options o until stopped: the exit status. */
static int run(const struct weftd_options *o)
{
    struct weftd_config cfg = {.root.fd = -1};
    weft_server_model model;
    weft_server *srv = NULL;
    weft_buf refusal = WEFT_BUF_INIT;
    char *abs = NULL;
    int fds[64], lfd = -1, status = 1, rc;

    if (weft_server_model_parse(o->model ? o->model : DEFAULT_MODEL, &model) <
        0)
        return 2; /* config.c checked it already */
    if (o->log != NULL) {
        lfd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (lfd < 0) {
            fprintf(stderr, "weftd: --log %s: %s\n", o->log, strerror(errno));
            return 1;
        }
        weftd_log_init(lfd);
    }
    weft_log_set(weftd_log_weft, NULL, WEFT_LOG_INFO);

    const char *root = o->root ? o->root : DEFAULT_ROOT;
    cfg.root.fd = open_root(root);
    if (cfg.root.fd < 0)
        goto out;
    abs = realpath(root, NULL);
    cfg.root_path = abs != NULL ? abs : root;
    /* A test hook: the fallback resolution that old kernels get. */
    cfg.root.no_openat2 = getenv("WEFTD_TEST_NO_OPENAT2") != NULL;
    cfg.read_only = o->read_only == 1;
    cfg.max_upload =
        o->has_max_upload ? o->max_upload : WEFT_FRAME_MAX_BODY_DEFAULT;
    cfg.quota = o->has_quota ? o->quota : 0;

    int n_fds = listen_fds();
    for (int i = 0; i < n_fds; i++)
        fds[i] = SD_FDS_START + i;
    static const char *const default_listen[] = {DEFAULT_LISTEN};
    const char *const *listen = (const char *const *)o->listen;
    size_t n_listen = o->n_listen;
    if (n_listen == 0 && n_fds == 0) {
        listen = default_listen;
        n_listen = 1;
    }

    /* Writes to a client that has gone must fail with EPIPE (sendfile
     * included), not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    if (weftd_refusal(&refusal) < 0) {
        fprintf(stderr, "weftd: out of memory\n");
        goto out;
    }
    weft_server_opts so = {.listen = listen,
                           .n_listen = n_listen,
                           .listen_fds = n_fds > 0 ? fds : NULL,
                           .n_listen_fds = (size_t)n_fds,
                           .model = model,
                           .handler = weftd_handle,
                           .arg = &cfg,
                           .workers = o->has_workers ? o->workers : 0,
                           .max_conns = o->has_max_conns ? o->max_conns : 0,
                           .refusal = refusal.data,
                           .refusal_len = refusal.len,
                           .stack_size = STACK_SIZE};
    rc = weft_server_create(&srv, &so);
    if (rc < 0) {
        fprintf(stderr, "weftd: cannot listen on %s%s: %s\n",
                n_listen > 0 ? listen[0] : "systemd's sockets",
                n_listen > 1 ? " (and others)" : "", weft_strerror(rc));
        goto out;
    }

    /* "weftd: serving /srv/lib on 127.0.0.1:9000, [::1]:9000 (model x)" */
    weft_buf line = WEFT_BUF_INIT;
    bool exposed = false;
    weft_buf_appendf(&line, "weftd: serving %s on ", cfg.root_path);
    for (size_t i = 0; i < weft_server_count(srv); i++) {
        weft_addr a;
        char text[WEFT_ADDR_TEXT_MAX] = "?";
        if (weft_server_addr(srv, i, &a) == 0) {
            weft_addr_format(&a, text, sizeof text);
            if (!is_local(&a))
                exposed = true;
        }
        weft_buf_appendf(&line, "%s%s", i > 0 ? ", " : "", text);
    }
    weft_buf_appendf(&line, " (model %s)", weft_server_model_name(model));
    fprintf(stderr, "%s\n", line.data != NULL ? line.data : "weftd: serving");
    if (o->log != NULL && line.data != NULL)
        weftd_log(WEFT_LOG_INFO, "%s", line.data + 7);
    weft_buf_free(&line);
    if (exposed) {
        fprintf(stderr,
                "weftd: WARNING: listening beyond this machine, and weftd "
                "has no users or passwords yet: anyone who can reach the "
                "port can %s the library\n",
                cfg.read_only ? "read" : "read, change and delete");
        weftd_log(WEFT_LOG_WARN, "listening beyond loopback without "
                                 "authentication");
    }
    if (cfg.read_only)
        weftd_log(WEFT_LOG_INFO, "read-only");
    fflush(stderr);

    rc = weft_server_run(srv);
    if (rc < 0)
        fprintf(stderr, "weftd: %s\n", weft_strerror(rc));
    else
        status = 0;
out:
    weft_server_destroy(srv);
    weft_buf_free(&refusal);
    free(abs);
    if (cfg.root.fd >= 0)
        close(cfg.root.fd);
    if (lfd >= 0) {
        weftd_log_init(2);
        close(lfd);
    }
    return status;
}

int main(int argc, char **argv)
{
    struct weftd_options o;
    int rc = weftd_options_parse(argc, argv, &o);
    int status = rc > 0 ? 0 : rc < 0 ? 2 : run(&o);
    weftd_options_free(&o);
    return status;
}
