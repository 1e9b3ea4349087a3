/* main.c - weftd, the file server: start-up and shut-down.
 *
 * Reads the options (config.c) and the users file (users.c), opens or
 * creates the library folder, listens (or adopts systemd's sockets),
 * refuses to serve beyond loopback without users (unless
 * --insecure-public), drops root's privileges (--user) and confines
 * itself to the library with Landlock (confine.c), and runs the handler
 * (proto.c) in the chosen concurrency model until SIGTERM or SIGINT,
 * which libweft's server turns into a graceful stop. `weftd passwd ...`
 * writes the users file instead (users.c).
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

#include <sodium.h>

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

int weftd_addr_is_local(const weft_addr *a)
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

/* "weftd: serving /srv/lib on 127.0.0.1:9000, [::1]:9000 (model x)" on
 * stderr, and in the log. */
static void serving_line(const struct weftd_options *o,
                         const struct weftd_config *cfg, weft_server *srv,
                         weft_server_model model)
{
    weft_buf line = WEFT_BUF_INIT;
    weft_buf_appendf(&line, "weftd: serving %s on ", cfg->root_path);
    for (size_t i = 0; i < weft_server_count(srv); i++) {
        weft_addr a;
        char text[WEFT_ADDR_TEXT_MAX] = "?";
        if (weft_server_addr(srv, i, &a) == 0)
            weft_addr_format(&a, text, sizeof text);
        weft_buf_appendf(&line, "%s%s", i > 0 ? ", " : "", text);
    }
    weft_buf_appendf(&line, " (model %s)", weft_server_model_name(model));
    fprintf(stderr, "%s\n", line.data != NULL ? line.data : "weftd: serving");
    if (o->log != NULL && line.data != NULL)
        weftd_log(WEFT_LOG_INFO, "%s", line.data + 7);
    weft_buf_free(&line);
}

/* Threads in this process (from /proc/self/status), -1 if unknown. */
static int thread_count(void)
{
    char line[128];
    FILE *f = fopen("/proc/self/status", "re");
    int n = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* After binding, before serving: the users' folders, the privilege drop
 * (--user), Landlock. 0, or -1 after printing why (exit 1). */
static int confine(const struct weftd_options *o, struct weftd_config *cfg,
                   const struct weftd_users *users, uid_t uid, gid_t gid)
{
    char hex[65];
    int abi = 0, rc;

    if (o->user != NULL) {
        if (weftd_drop_privileges(o->user, uid, gid) < 0)
            return -1;
        weftd_log(WEFT_LOG_INFO, "running as %s (uid %ld, gid %ld)", o->user,
                  (long)uid, (long)gid);
    } else if (geteuid() == 0) {
        fprintf(stderr, "weftd: WARNING: running as root; start it as an "
                        "ordinary user, or give --user NAME to drop "
                        "privileges after binding\n");
        weftd_log(WEFT_LOG_WARN, "running as root");
    }
    /* Each user's folder, made (as the user weftd now is) if missing. */
    for (size_t i = 0; i < users->n; i++) {
        const char *r = users->v[i].root;
        if (r[0] == '\0')
            continue;
        rc = weftd_mkdir(&cfg->root, r, true);
        if (rc < 0)
            weftd_log(WEFT_LOG_WARN, "user %s: root %s: %s", users->v[i].name,
                      r, weft_strerror(rc));
    }
    /* What the libraries would open lazily is opened now: OpenSSL's
     * configuration (the first digest), libsodium's randomness. */
    weftd_sha_text("", 0, hex);
    if (sodium_init() < 0)
        weftd_log(WEFT_LOG_WARN, "libsodium failed to start");
    if (o->no_landlock == 1) {
        weftd_log(WEFT_LOG_INFO, "landlock: off (--no-landlock)");
    } else {
        /* Landlock confines the calling thread and those it starts
         * later; the models' threads all start later, in
         * weft_server_run. Say so if some thread (a sanitizer's) runs
         * already. */
        int threads = thread_count();
        if (threads > 1)
            weftd_log(WEFT_LOG_WARN,
                      "landlock: %d threads run already; only this one "
                      "and those started later are confined",
                      threads);
        rc = weftd_landlock(cfg->root.fd, &abi);
        if (rc == 0)
            weftd_log(WEFT_LOG_INFO, "landlock: confined to %s (ABI %d)",
                      cfg->root_path, abi);
        else
            weftd_log(WEFT_LOG_WARN,
                      "landlock: not available (%s): confined by path "
                      "resolution only",
                      weft_strerror(rc));
    }
    /* A test hook: can weftd itself open this file now? */
    const char *probe = getenv("WEFTD_TEST_OPEN");
    if (probe != NULL) {
        int fd = open(probe, O_RDONLY | O_CLOEXEC);
        weftd_log(WEFT_LOG_INFO, "test: open %s: %s", probe,
                  fd >= 0 ? "ok" : strerror(errno));
        if (fd >= 0)
            close(fd);
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
    struct weftd_users users = {0};
    uid_t uid = 0;
    gid_t gid = 0;
    bool created = false;

    if (weft_server_model_parse(o->model ? o->model : DEFAULT_MODEL, &model) <
        0)
        return 2; /* config.c checked it already */
    if (o->user != NULL) {
        if (geteuid() != 0) {
            fprintf(stderr,
                    "weftd: --user %s: weftd is not running as root (uid "
                    "%ld); it can only drop privileges it has\n",
                    o->user, (long)geteuid());
            return 2;
        }
        if (weftd_user_lookup(o->user, &uid, &gid) < 0)
            return 2;
    }
    if (o->users != NULL && weftd_users_load(o->users, &users) < 0)
        return 2;

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
    struct stat st0;
    created = stat(root, &st0) < 0 && errno == ENOENT;
    cfg.root.fd = open_root(root);
    if (cfg.root.fd < 0)
        goto out;
    /* A library weftd made as root belongs to the user it becomes. */
    if (created && o->user != NULL) {
        int rfd = openat(cfg.root.fd, "README.txt", O_RDONLY | O_CLOEXEC);
        if (fchown(cfg.root.fd, uid, gid) < 0 ||
            (rfd >= 0 && fchown(rfd, uid, gid) < 0))
            fprintf(stderr, "weftd: chown %s: %s\n", root, strerror(errno));
        if (rfd >= 0)
            close(rfd);
    }
    abs = realpath(root, NULL);
    cfg.root_path = abs != NULL ? abs : root;
    /* A test hook: the fallback resolution that old kernels get. */
    cfg.root.no_openat2 = getenv("WEFTD_TEST_NO_OPENAT2") != NULL;
    cfg.read_only = o->read_only == 1;
    cfg.max_upload =
        o->has_max_upload ? o->max_upload : WEFT_FRAME_MAX_BODY_DEFAULT;
    cfg.quota = o->has_quota ? o->quota : 0;
    cfg.insecure_http_auth = o->insecure_http_auth == 1;
    if (o->tls_cert != NULL) {
        char err[WEFT_TLS_ERR_MAX];
        if (weft_tls_server_ctx(&cfg.tls, o->tls_cert, o->tls_key, err,
                                sizeof err) < 0) {
            fprintf(stderr, "weftd: --tls-cert: %s\n", err);
            goto out;
        }
    }
    if (users.n > 0 &&
        weftd_auth_create(&cfg.auth, &users,
                          o->has_login_limit ? o->login_max
                                             : WEFTD_LOGIN_MAX_DEFAULT,
                          o->has_login_limit ? o->login_window
                                             : WEFTD_LOGIN_WINDOW_DEFAULT) < 0)
        goto out;

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
                           .io_timeout_ms = o->io_ms,
                           .idle_timeout_ms = o->idle_ms,
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

    bool exposed = false;
    for (size_t i = 0; i < weft_server_count(srv); i++) {
        weft_addr a;
        if (weft_server_addr(srv, i, &a) == 0 && !weftd_addr_is_local(&a))
            exposed = true;
    }
    if (exposed && cfg.auth == NULL && o->insecure_public != 1) {
        fprintf(stderr, "weftd: refusing to serve beyond this machine "
                        "without users: give --users FILE, listen on "
                        "loopback, or say --insecure-public\n");
        status = 2;
        goto out;
    }
    if (confine(o, &cfg, &users, uid, gid) < 0)
        goto out;
    serving_line(o, &cfg, srv, model);
    if (exposed) {
        if (cfg.auth == NULL) {
            fprintf(stderr,
                    "weftd: WARNING: listening beyond this machine without "
                    "users (--insecure-public): anyone who can reach the "
                    "port can %s the library\n",
                    cfg.read_only ? "read" : "read, change and delete");
            weftd_log(WEFT_LOG_WARN, "listening beyond loopback without "
                                     "authentication");
        } else if (cfg.tls == NULL) {
            fprintf(stderr, "weftd: WARNING: listening beyond this machine "
                            "without TLS: passwords and files cross the "
                            "network unencrypted\n");
        }
    }
    if (cfg.read_only)
        weftd_log(WEFT_LOG_INFO, "read-only");
    if (cfg.tls != NULL)
        weftd_log(WEFT_LOG_INFO,
                  "TLS with %s; plain connections from this "
                  "machine only",
                  o->tls_cert);
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
    weftd_auth_destroy(cfg.auth);
    weftd_users_free(&users);
    weft_tls_ctx_destroy(cfg.tls);
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
    if (argc > 1 && strcmp(argv[1], "passwd") == 0)
        return weftd_passwd_main(argc - 1, argv + 1);
    int rc = weftd_options_parse(argc, argv, &o);
    int status = rc > 0 ? 0 : rc < 0 ? 2 : run(&o);
    weftd_options_free(&o);
    return status;
}
