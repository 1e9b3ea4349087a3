/* config.c - weftd's options: the command line (getopt_long) and the
 * config file (--config FILE), which has the same keys as the long
 * options, one "key = value" a line, "#" starting a comment line:
 *
 *     # /etc/weftd.conf
 *     root = /srv/library
 *     listen = 127.0.0.1:9000
 *     listen = [::1]:9000
 *     model = coroutine
 *     max-upload = 2G
 *     read-only = false
 *     users = /etc/weftd.users
 *     tls-cert = /etc/weftd/cert.pem
 *     tls-key = /etc/weftd/key.pem
 *
 * What the command line gives wins over the file (for listen: any
 * --listen replaces all of the file's). A bad option prints one line on
 * stderr; main() exits with 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weftd.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weftd [OPTION]...\n"
            "Serve a folder (the library) over weft's framed protocol.\n"
            "\n"
            "  --root DIR        the library (default ./library, created "
            "if missing)\n"
            "  --listen ADDR     HOST:PORT or [V6]:PORT; repeatable "
            "(default 127.0.0.1:9000)\n"
            "  --model NAME      serial, fork, thread, prefork, threadpool "
            "or coroutine\n"
            "                    (default coroutine)\n"
            "  --workers N       workers of prefork, threadpool, coroutine "
            "(default: CPUs)\n"
            "  --max-conns N     connections at once; more are refused with "
            "\"busy\" (1024)\n"
            "  --read-only       refuse put, delete and mkdir\n"
            "  --max-upload SIZE the largest upload (default 1G; K, M, G, T "
            "suffixes)\n"
            "  --quota SIZE      the most the library may hold (default: no "
            "limit)\n"
            "  --log FILE        log there (default stderr)\n"
            "  --users FILE      users and password hashes: every client "
            "must log in\n"
            "  --tls-cert FILE   serve TLS too, with this PEM certificate "
            "chain; plain\n"
            "                    connections then only from this machine\n"
            "  --tls-key FILE    its private key (default: in --tls-cert's "
            "file)\n"
            "  --login-limit N/S lock an address out after N failed logins "
            "in S seconds\n"
            "                    (default 5/60)\n"
            "  --user NAME       started as root: become NAME after "
            "binding\n"
            "  --no-landlock     do not confine weftd to the library with "
            "Landlock\n"
            "  --io-timeout MS   each step of a transfer, and a request's "
            "head (30000)\n"
            "  --idle-timeout MS a connection's wait for its next request "
            "(300000)\n"
            "  --insecure-http-auth  take HTTP Basic logins over plain "
            "connections\n"
            "                    from beyond this machine too\n"
            "  --insecure-public serve beyond loopback without --users "
            "(anyone may\n"
            "                    read and change the library)\n"
            "  --config FILE     read options from FILE (key = value lines)\n"
            "  --help            this text\n"
            "  --version         the version\n"
            "\n"
            "Under systemd socket activation (LISTEN_FDS) the sockets it "
            "passes are used.\n"
            "\n"
            "weftd passwd [--users FILE] [--root DIR] [--read-only] NAME\n"
            "                    add a user, or set a new password (read "
            "from stdin)\n"
            "See docs/weftd.md.\n");
}

int weftd_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift != 0) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
            end += strlen(end);
    } else if (strcmp(end, "B") == 0) {
        end++;
    }
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_bool(const char *s)
{
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
        strcmp(s, "1") == 0 || strcasecmp(s, "on") == 0)
        return 1;
    if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
        strcmp(s, "0") == 0 || strcasecmp(s, "off") == 0)
        return 0;
    return -1;
}

/* Set option key to value (NULL for the flag read-only on the command
 * line). where names the origin for messages ("--" or "FILE:LINE: ").
 * 0, or -1 after printing the reason. */
static int set_option(struct weftd_options *o, const char *key,
                      const char *value, const char *where)
{
    weft_server_model m;

    if (strcmp(key, "root") == 0) {
        if (value[0] == '\0')
            goto bad;
        o->root = value;
    } else if (strcmp(key, "listen") == 0) {
        const char **l = realloc(o->listen, (o->n_listen + 1) * sizeof *l);
        if (l == NULL) {
            fprintf(stderr, "weftd: out of memory\n");
            return -1;
        }
        o->listen = l;
        o->listen[o->n_listen++] = value;
    } else if (strcmp(key, "model") == 0) {
        if (weft_server_model_parse(value, &m) < 0) {
            fprintf(stderr,
                    "weftd: %smodel: '%s' is not one of serial, fork, thread, "
                    "prefork, threadpool, coroutine\n",
                    where, value);
            return -1;
        }
        o->model = value;
    } else if (strcmp(key, "workers") == 0) {
        if (parse_int(value, 1, 4096, &o->workers) < 0)
            goto bad;
        o->has_workers = true;
    } else if (strcmp(key, "max-conns") == 0) {
        if (parse_int(value, 1, 1000000, &o->max_conns) < 0)
            goto bad;
        o->has_max_conns = true;
    } else if (strcmp(key, "read-only") == 0) {
        o->read_only = value == NULL ? 1 : parse_bool(value);
        if (o->read_only < 0)
            goto bad;
    } else if (strcmp(key, "max-upload") == 0) {
        if (weftd_parse_size(value, &o->max_upload) < 0 || o->max_upload == 0 ||
            o->max_upload > (uint64_t)INT64_MAX)
            goto bad;
        o->has_max_upload = true;
    } else if (strcmp(key, "quota") == 0) {
        if (weftd_parse_size(value, &o->quota) < 0)
            goto bad;
        o->has_quota = true;
    } else if (strcmp(key, "log") == 0) {
        if (value[0] == '\0')
            goto bad;
        o->log = value;
    } else if (strcmp(key, "users") == 0) {
        if (value[0] == '\0')
            goto bad;
        o->users = value;
    } else if (strcmp(key, "tls-cert") == 0) {
        if (value[0] == '\0')
            goto bad;
        o->tls_cert = value;
    } else if (strcmp(key, "tls-key") == 0) {
        if (value[0] == '\0')
            goto bad;
        o->tls_key = value;
    } else if (strcmp(key, "user") == 0) {
        if (value[0] == '\0')
            goto bad;
        o->user = value;
    } else if (strcmp(key, "insecure-public") == 0) {
        o->insecure_public = value == NULL ? 1 : parse_bool(value);
        if (o->insecure_public < 0)
            goto bad;
    } else if (strcmp(key, "insecure-http-auth") == 0) {
        o->insecure_http_auth = value == NULL ? 1 : parse_bool(value);
        if (o->insecure_http_auth < 0)
            goto bad;
    } else if (strcmp(key, "io-timeout") == 0) {
        if (parse_int(value, 1, 86400000, &o->io_ms) < 0)
            goto bad;
    } else if (strcmp(key, "idle-timeout") == 0) {
        if (parse_int(value, 1, 86400000, &o->idle_ms) < 0)
            goto bad;
    } else if (strcmp(key, "no-landlock") == 0) {
        o->no_landlock = value == NULL ? 1 : parse_bool(value);
        if (o->no_landlock < 0)
            goto bad;
    } else if (strcmp(key, "login-limit") == 0) {
        /* N/SECONDS */
        const char *slash = strchr(value, '/');
        char n[16];
        if (slash == NULL || (size_t)(slash - value) >= sizeof n)
            goto bad;
        snprintf(n, sizeof n, "%.*s", (int)(slash - value), value);
        if (parse_int(n, 1, 1000000, &o->login_max) < 0 ||
            parse_int(slash + 1, 1, 86400, &o->login_window) < 0)
            goto bad;
        o->has_login_limit = true;
    } else {
        fprintf(stderr, "weftd: %sunknown option '%s'\n", where, key);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "weftd: %s%s: bad value '%s'\n", where, key,
            value != NULL ? value : "");
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    /* "value" in quotes: the quotes go. */
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* Read the config file into o (which owns the strings). 0 or -1. */
static int read_config(const char *file, struct weftd_options *o)
{
    FILE *f = fopen(file, "re");
    char *line = NULL, where[512];
    size_t cap = 0;
    int lineno = 0, rc = 0;

    if (f == NULL) {
        fprintf(stderr, "weftd: --config %s: %s\n", file, strerror(errno));
        return -1;
    }
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        snprintf(where, sizeof where, "%s:%d: ", file, lineno);
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            fprintf(stderr, "weftd: %sexpected 'key = value'\n", where);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = strdup(trim(eq + 1));
        char **owned = realloc(o->owned, (o->n_owned + 1) * sizeof *owned);
        if (owned != NULL)
            o->owned = owned;
        if (val == NULL || owned == NULL) {
            free(val);
            fprintf(stderr, "weftd: out of memory\n");
            rc = -1;
            break;
        }
        o->owned[o->n_owned++] = val;
        if (strcmp(key, "config") == 0 || strcmp(key, "help") == 0 ||
            strcmp(key, "version") == 0) {
            fprintf(stderr, "weftd: %s'%s' is for the command line\n", where,
                    key);
            rc = -1;
        } else {
            rc = set_option(o, key, val, where);
        }
    }
    free(line);
    fclose(f);
    return rc;
}

static int merge_config(struct weftd_options *o);

int weftd_options_parse(int argc, char **argv, struct weftd_options *o)
{
    static const struct option longopts[] = {
        {"root", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},
        {"model", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"max-conns", required_argument, NULL, 'c'},
        {"read-only", no_argument, NULL, 'R'},
        {"max-upload", required_argument, NULL, 'u'},
        {"quota", required_argument, NULL, 'q'},
        {"log", required_argument, NULL, 'L'},
        {"users", required_argument, NULL, 'U'},
        {"user", required_argument, NULL, 'W'},
        {"tls-cert", required_argument, NULL, 'S'},
        {"tls-key", required_argument, NULL, 'K'},
        {"insecure-public", no_argument, NULL, 'I'},
        {"no-landlock", no_argument, NULL, 'N'},
        {"insecure-http-auth", no_argument, NULL, 'H'},
        {"io-timeout", required_argument, NULL, 'O'},
        {"idle-timeout", required_argument, NULL, 'D'},
        {"login-limit", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int ch, idx, rc;

    memset(o, 0, sizeof *o);
    o->read_only = o->insecure_public = o->no_landlock = -1;
    o->insecure_http_auth = -1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":hV", longopts, &idx)) != -1) {
        const char *key = NULL;
        switch (ch) {
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("weftd %s (libweft %s)\n", WEFT_VERSION_STRING,
                   weft_version());
            return 1;
        case 'C':
            o->config = optarg;
            continue;
        case ':':
            fprintf(stderr, "weftd: %s needs a value\n", argv[optind - 1]);
            return -1;
        case '?':
            fprintf(stderr, "weftd: unknown option '%s' (see --help)\n",
                    argv[optind - 1]);
            return -1;
        default:
            key = longopts[idx].name;
            /* getopt_long leaves idx alone for short options; all of
             * weftd's value options are long only. */
            break;
        }
        bool flag = ch == 'R' || ch == 'I' || ch == 'N' || ch == 'H';
        if (set_option(o, key, flag ? NULL : optarg, "--") < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "weftd: unexpected argument '%s' (see --help)\n",
                argv[optind]);
        return -1;
    }
    if (o->config != NULL) {
        rc = merge_config(o);
        if (rc < 0)
            return rc;
    }
    if (o->tls_key != NULL && o->tls_cert == NULL) {
        fprintf(stderr, "weftd: tls-key needs tls-cert\n");
        return -1;
    }
    return 0;
}

/* Read --config's file into o, under what the command line gave. */
static int merge_config(struct weftd_options *o)
{
    struct weftd_options file;
    int rc;

    memset(&file, 0, sizeof file);
    file.read_only = file.insecure_public = file.no_landlock = -1;
    file.insecure_http_auth = -1;
    rc = read_config(o->config, &file);
    /* The strings are o's from now on, whatever happens. */
    o->owned = file.owned;
    o->n_owned = file.n_owned;
    if (rc < 0) {
        free(file.listen);
        return -1;
    }
    /* The command line wins. */
    if (o->root == NULL)
        o->root = file.root;
    if (o->n_listen == 0) {
        free(o->listen);
        o->listen = file.listen;
        o->n_listen = file.n_listen;
    } else {
        free(file.listen);
    }
    if (o->model == NULL)
        o->model = file.model;
    if (!o->has_workers && file.has_workers)
        o->workers = file.workers, o->has_workers = true;
    if (!o->has_max_conns && file.has_max_conns)
        o->max_conns = file.max_conns, o->has_max_conns = true;
    if (o->read_only < 0)
        o->read_only = file.read_only;
    if (!o->has_max_upload && file.has_max_upload)
        o->max_upload = file.max_upload, o->has_max_upload = true;
    if (!o->has_quota && file.has_quota)
        o->quota = file.quota, o->has_quota = true;
    if (o->log == NULL)
        o->log = file.log;
    if (o->users == NULL)
        o->users = file.users;
    if (o->user == NULL)
        o->user = file.user;
    if (o->tls_cert == NULL)
        o->tls_cert = file.tls_cert;
    if (o->tls_key == NULL)
        o->tls_key = file.tls_key;
    if (o->insecure_public < 0)
        o->insecure_public = file.insecure_public;
    if (o->no_landlock < 0)
        o->no_landlock = file.no_landlock;
    if (o->insecure_http_auth < 0)
        o->insecure_http_auth = file.insecure_http_auth;
    if (o->io_ms == 0)
        o->io_ms = file.io_ms;
    if (o->idle_ms == 0)
        o->idle_ms = file.idle_ms;
    if (!o->has_login_limit && file.has_login_limit) {
        o->login_max = file.login_max;
        o->login_window = file.login_window;
        o->has_login_limit = true;
    }
    return 0;
}

void weftd_options_free(struct weftd_options *o)
{
    for (size_t i = 0; i < o->n_owned; i++)
        free(o->owned[i]);
    free(o->owned);
    free(o->listen);
    o->owned = NULL;
    o->listen = NULL;
    o->n_owned = o->n_listen = 0;
}
