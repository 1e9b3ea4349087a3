/* users.c - the users file (--users FILE) and `weftd passwd`, which
 * writes it.
 *
 * One user a line, fields separated by ':'; blank lines and lines
 * starting with '#' are ignored:
 *
 *     # NAME:HASH[:OPTION]...
 *     ana:$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA
 *     bo:$argon2id$v=19$m=65536,t=2,p=1$...:root=shared/bo:ro
 *
 * NAME is 1 to 64 bytes of letters, digits, '.', '_', '@' and '-'. HASH
 * is libsodium's crypto_pwhash_str() string (argon2id). OPTIONs: root=DIR
 * (the user sees only DIR, a library path without ':'), ro (read-only),
 * rw (the default). A line weftd cannot read stops it from starting
 * (exit 2), naming the file and line.
 *
 * The file is read once at start-up. `weftd passwd` replaces it
 * atomically (a temporary file beside it, fsync, rename), keeping its
 * other lines and comments, so a running weftd never sees half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "weftd.h"

#define DEFAULT_USERS_FILE "./weftd.users"

int weftd_user_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > WEFTD_USER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
              c == '-'))
            return 0;
    }
    return 1;
}

void weftd_users_free(struct weftd_users *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].name);
        free(u->v[i].hash);
        free(u->v[i].root);
    }
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

/* A user's root: a valid library path, without ':' (the separator). */
static int root_ok(const char *r)
{
    return strchr(r, ':') == NULL && weftd_path_check(r, strlen(r)) == 0;
}

/* Parse one line (s, without its newline) into *u: NULL, or the reason
 * it is wrong. */
static const char *parse_line(char *s, struct weftd_user *u)
{
    char *save = NULL;
    char *name = strtok_r(s, ":", &save);
    char *hash = name != NULL ? strtok_r(NULL, ":", &save) : NULL;
    const char *root = "";
    bool ro = false;

    if (name == NULL || !weftd_user_name_ok(name, strlen(name)))
        return "bad user name (1 to 64 of A-Z a-z 0-9 . _ @ -)";
    if (hash == NULL || strncmp(hash, "$argon2", 7) != 0 ||
        strlen(hash) >= crypto_pwhash_STRBYTES)
        return "the second field is not an argon2 hash (weftd passwd "
               "writes one)";
    for (char *o = strtok_r(NULL, ":", &save); o != NULL;
         o = strtok_r(NULL, ":", &save)) {
        if (strcmp(o, "ro") == 0)
            ro = true;
        else if (strcmp(o, "rw") == 0)
            ro = false;
        else if (strncmp(o, "root=", 5) == 0 && root_ok(o + 5))
            root = o + 5;
        else
            return "bad option (root=DIR, ro or rw)";
    }
    u->name = strdup(name);
    u->hash = strdup(hash);
    u->root = strdup(root);
    u->read_only = ro;
    return NULL;
}

static char *trim_line(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int weftd_users_load(const char *file, struct weftd_users *out)
{
    FILE *f = fopen(file, "re");
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    struct stat st;

    memset(out, 0, sizeof *out);
    if (f == NULL) {
        fprintf(stderr, "weftd: --users %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0007) != 0)
        fprintf(stderr,
                "weftd: warning: %s is readable or writable by everyone "
                "(chmod 600 it)\n",
                file);
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = trim_line(line);
        if (*s == '\0' || *s == '#')
            continue;
        struct weftd_user u = {0};
        const char *why = parse_line(s, &u);
        if (why == NULL && (u.name == NULL || u.hash == NULL || u.root == NULL))
            why = "out of memory";
        for (size_t i = 0; why == NULL && i < out->n; i++)
            if (strcmp(out->v[i].name, u.name) == 0)
                why = "this user has a line already";
        struct weftd_user *v =
            why == NULL ? realloc(out->v, (out->n + 1) * sizeof *v) : NULL;
        if (why == NULL && v == NULL)
            why = "out of memory";
        if (why != NULL) {
            free(u.name);
            free(u.hash);
            free(u.root);
            fprintf(stderr, "weftd: %s:%d: %s\n", file, lineno, why);
            rc = -1;
            break;
        }
        out->v = v;
        out->v[out->n++] = u;
    }
    free(line);
    fclose(f);
    if (rc == 0 && out->n == 0) {
        fprintf(stderr, "weftd: %s: no users (weftd passwd adds one)\n", file);
        rc = -1;
    }
    if (rc < 0)
        weftd_users_free(out);
    return rc;
}

/* ---- weftd passwd ------------------------------------------------------- */

static void passwd_usage(FILE *f)
{
    fprintf(f,
            "usage: weftd passwd [--users FILE] [--root DIR] [--read-only] "
            "NAME\n"
            "Add user NAME to the users file (default %s), or set a new\n"
            "password; the password is read from stdin (without echo on a\n"
            "terminal, where it is asked twice).\n"
            "\n"
            "  --users FILE   the users file (created 0600 if missing)\n"
            "  --root DIR     the user sees only DIR, a folder of the "
            "library\n"
            "  --read-only    the user may not change anything\n",
            DEFAULT_USERS_FILE);
}

/* Read one line of at most WEFTD_PASSWORD_MAX bytes from stdin into buf
 * (its newline removed), prompting without echo on a terminal. 0, or -1
 * after printing why. */
static int read_password(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    size_t n = 0;
    int rc = 0;

    if (tty) {
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (n + 1 >= cap) {
            rc = -1;
            continue; /* read the rest of the line, then refuse */
        }
        buf[n++] = c;
    }
    if (tty)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (rc < 0)
        fprintf(stderr, "weftd passwd: the password is over %d bytes\n",
                WEFTD_PASSWORD_MAX);
    else if (n == 0)
        fprintf(stderr, "weftd passwd: empty password\n");
    return rc < 0 || n == 0 ? -1 : 0;
}

/* Write text to file atomically: a temporary file beside it (mode and
 * owner: the old file's; a new file is 0600), fsync, rename over file,
 * fsync the folder. 0 or -1 after printing why. */
static int write_atomic(const char *file, const char *text, size_t len)
{
    struct stat st;
    bool old = stat(file, &st) == 0;
    mode_t mode = old ? (st.st_mode & 07777) : 0600;
    size_t flen = strlen(file);
    char *tmp = malloc(flen + 16);
    int fd = -1, rc = -1;

    if (tmp == NULL) {
        fprintf(stderr, "weftd passwd: out of memory\n");
        return -1;
    }
    snprintf(tmp, flen + 16, "%s.tmp.XXXXXX", file);
    fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "weftd passwd: %s: %s\n", file, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto out;
        off += (size_t)w;
    }
    /* The new file keeps the old one's mode, and (as root) its owner. */
    if (fchmod(fd, mode) < 0 ||
        (old && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) ||
        fsync(fd) < 0)
        goto out;
    if (close(fd) < 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, file) < 0)
        goto out;
    /* The folder, so the rename survives a crash. */
    char *slash = strrchr(tmp, '/');
    if (slash != NULL)
        *(slash == tmp ? slash + 1 : slash) = '\0';
    int dfd =
        open(slash != NULL ? tmp : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return 0;
out:
    fprintf(stderr, "weftd passwd: writing %s: %s\n", file, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
}

/* The users file with name's line replaced by (or followed by) entry:
 * the new text, malloc'd, in *out and *len. 0, or -1 after printing. */
static int new_text(const char *file, const char *name, const char *entry,
                    char **out, size_t *len)
{
    weft_buf b = WEFT_BUF_INIT;
    FILE *f = fopen(file, "re");
    char *line = NULL;
    size_t cap = 0, nlen = strlen(name);
    bool replaced = false;
    int err = 0;

    if (f == NULL && errno != ENOENT) {
        fprintf(stderr, "weftd passwd: %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (f == NULL)
        err |= weft_buf_appendf(&b, "# weftd users: NAME:HASH[:root=DIR][:ro] "
                                    "(docs/weftd.md)\n");
    while (f != NULL && getline(&line, &cap, f) >= 0) {
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, name, nlen) == 0 && s[nlen] == ':') {
            if (!replaced)
                err |= weft_buf_appendf(&b, "%s\n", entry);
            replaced = true;
            continue;
        }
        size_t l = strlen(line);
        err |= weft_buf_appendf(&b, "%s%s", line,
                                l > 0 && line[l - 1] == '\n' ? "" : "\n");
    }
    if (!replaced)
        err |= weft_buf_appendf(&b, "%s\n", entry);
    free(line);
    if (f != NULL)
        fclose(f);
    if (err != 0 || b.data == NULL) {
        weft_buf_free(&b);
        fprintf(stderr, "weftd passwd: out of memory\n");
        return -1;
    }
    *out = weft_buf_detach(&b, len);
    return 0;
}

int weftd_passwd_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"users", required_argument, NULL, 'u'},
        {"root", required_argument, NULL, 'r'},
        {"read-only", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *file = DEFAULT_USERS_FILE, *root = "";
    bool ro = false;
    int ch;

    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            file = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        case 'R':
            ro = true;
            break;
        case 'h':
            passwd_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "weftd passwd: bad option '%s' (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "weftd passwd: one user NAME is wanted (see "
                        "--help)\n");
        return 2;
    }
    const char *name = argv[optind];
    if (!weftd_user_name_ok(name, strlen(name))) {
        fprintf(stderr,
                "weftd passwd: bad user name '%s' (1 to 64 of A-Z "
                "a-z 0-9 . _ @ -)\n",
                name);
        return 2;
    }
    if (!root_ok(root)) {
        fprintf(stderr,
                "weftd passwd: --root '%s' is not a library path "
                "(relative, no '..', no ':')\n",
                root);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "weftd passwd: libsodium failed to start\n");
        return 1;
    }

    char *pw = sodium_malloc(WEFTD_PASSWORD_MAX + 1);
    char *again = sodium_malloc(WEFTD_PASSWORD_MAX + 1);
    char hash[crypto_pwhash_STRBYTES];
    int status = 1;
    if (pw == NULL || again == NULL) {
        fprintf(stderr, "weftd passwd: out of memory\n");
        goto out;
    }
    if (read_password("Password: ", pw, WEFTD_PASSWORD_MAX + 1) < 0)
        goto out;
    if (isatty(STDIN_FILENO)) {
        if (read_password("Again: ", again, WEFTD_PASSWORD_MAX + 1) < 0)
            goto out;
        if (strcmp(pw, again) != 0) {
            fprintf(stderr, "weftd passwd: the passwords differ\n");
            goto out;
        }
    }
    if (crypto_pwhash_str(hash, pw, strlen(pw),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "weftd passwd: out of memory hashing the password\n");
        goto out;
    }
    char entry[WEFTD_USER_MAX + crypto_pwhash_STRBYTES + WEFTD_MAX_PATH + 32];
    snprintf(entry, sizeof entry, "%s:%s%s%s%s", name, hash,
             root[0] != '\0' ? ":root=" : "", root, ro ? ":ro" : "");
    char *text;
    size_t len;
    if (new_text(file, name, entry, &text, &len) < 0)
        goto out;
    if (write_atomic(file, text, len) == 0) {
        fprintf(stderr, "weftd passwd: %s: user %s written\n", file, name);
        status = 0;
    }
    free(text);
out:
    sodium_free(pw);
    sodium_free(again);
    return status;
}
