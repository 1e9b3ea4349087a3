/* transfer.c - the weft client's get and put.
 *
 * Downloads are checked as a whole: SHA-256 runs over the bytes as they
 * arrive (after the bytes a resume starts from), and must equal the
 * reply's sha256 before the file takes its name. They are written to
 * DEST.part beside DEST and renamed when verified; an interrupted one
 * leaves DEST.part, which `get -c` continues (docs/weft.md).
 *
 * Uploads hash the local file first (a first pass), send the hash with
 * the request so the server verifies, then stream the bytes in chunks,
 * watching between chunks for a refusal the server sends early. `put -c`
 * asks the server (stat) how much of an interrupted upload it holds and
 * sends the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <weft/frame.h>
#include <weft/net.h>

#include "cli.h"

#define RECV_PIECE ((uint64_t)1 << 20) /* body bytes per timeout period */
#define IO_CHUNK   (256u * 1024)       /* file bytes per read/write */

/* ---- helpers ------------------------------------------------------------ */

static void sha256_hex(EVP_MD_CTX *md, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(md, d, &n);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    out[64] = '\0';
}

/* Hash len bytes of fd from offset 0 into md: 0, -EIO if the file is
 * shorter, or -errno. */
static int hash_file(int fd, uint64_t len, EVP_MD_CTX *md, cli_progress *bar,
                     char *buf)
{
    uint64_t pos = 0;
    while (pos < len) {
        if (cli_interrupted)
            return -EINTR;
        size_t want = len - pos < IO_CHUNK ? (size_t)(len - pos) : IO_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        EVP_DigestUpdate(md, buf, (size_t)n);
        pos += (uint64_t)n;
        if (bar != NULL)
            cli_progress_add(bar, (uint64_t)n);
    }
    return 0;
}

/* Not weft_write_all: that one makes the descriptor non-blocking, and
 * stdout (get -o -) may share its file description with the caller's
 * terminal or pipe. */
static int write_all_fd(int fd, const void *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- get ---------------------------------------------------------------- */

typedef struct get_sink {
    int fd;            /* where the bytes go */
    EVP_MD_CTX *md;    /* hashing them */
    cli_progress *bar; /* showing them */
    int err;           /* a local write error, or 0 */
} get_sink;

static int get_chunk(void *ud, const void *chunk, size_t n)
{
    get_sink *k = ud;
    if (cli_interrupted) {
        k->err = -EINTR;
        return -EINTR;
    }
    int rc = write_all_fd(k->fd, chunk, n);
    if (rc < 0) {
        k->err = rc;
        return rc;
    }
    EVP_DigestUpdate(k->md, chunk, n);
    cli_progress_add(k->bar, n);
    return 0;
}

/* Where a download goes: dest (its own buffer), and work, the file
 * written: dest + ".part", or dest itself for an in-place resume or
 * stdout ("-"). */
typedef struct get_paths {
    weft_buf dest;
    weft_buf work;
    bool to_stdout;
    bool in_place;
    uint64_t offset; /* bytes already in work */
} get_paths;

static int get_plan(get_paths *p, const char *name, const char *out, bool cont)
{
    struct stat st;
    const char *base = cli_base_name(name);
    if (*base == '\0')
        return -EINVAL;
    if (out != NULL && strcmp(out, "-") == 0) {
        p->to_stdout = true;
        return 0;
    }
    int rc;
    if (out == NULL)
        rc = weft_buf_append_str(&p->dest, base);
    else if (cli_ends_with_slash(out) ||
             (stat(out, &st) == 0 && S_ISDIR(st.st_mode)))
        rc = weft_buf_appendf(&p->dest, "%s%s%s", out,
                              cli_ends_with_slash(out) ? "" : "/", base);
    else
        rc = weft_buf_append_str(&p->dest, out);
    if (rc == 0)
        rc = weft_buf_appendf(&p->work, "%s.part", p->dest.data);
    if (rc < 0 || !cont)
        return rc;
    /* -c: continue DEST.part, or else DEST itself, in place. */
    if (stat(p->work.data, &st) == 0 && S_ISREG(st.st_mode)) {
        p->offset = (uint64_t)st.st_size;
    } else if (stat(p->dest.data, &st) == 0 && S_ISREG(st.st_mode)) {
        p->in_place = true;
        p->offset = (uint64_t)st.st_size;
        weft_buf_reset(&p->work);
        rc = weft_buf_append_str(&p->work, p->dest.data);
    }
    return rc;
}

/* Receive the body into k, in pieces so that the timeout bounds each
 * piece rather than the whole file. */
static int get_body(cli_session *s, uint64_t len, get_sink *k)
{
    while (len > 0) {
        uint64_t piece = len < RECV_PIECE ? len : RECV_PIECE;
        int rc =
            weft_frame_recv_body_cb(s->fd, piece, get_chunk, k, s->timeout_ms);
        if (rc < 0)
            return rc;
        len -= piece;
    }
    return 0;
}

static int get_run(cli_session *s, const char *name, get_paths *p,
                   const char *what)
{
    const char *shown = p->to_stdout ? "stdout" : p->work.data;
    /* A DEST.part made here and still empty is removed on failure. */
    bool created = !p->to_stdout && !p->in_place && p->offset == 0;
    int fd = STDOUT_FILENO;
    if (!p->to_stdout) {
        int flags = O_RDWR | O_CREAT | O_CLOEXEC;
        if (p->offset == 0)
            flags |= O_TRUNC;
        fd = open(p->work.data, flags, 0666);
        if (fd < 0)
            return cli_fail(cli_errno_exit(-errno), what, "%s: %s", shown,
                            strerror(errno));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char *buf = malloc(IO_CHUNK);
    json_t *req = NULL, *reply = NULL;
    cli_progress bar = {0};
    int code = CLI_OK, rc = 0;
    if (md == NULL || buf == NULL ||
        !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        code = cli_fail(CLI_ERR, what, "out of memory");
        goto out;
    }
    /* A resume is checked as a whole: hash what is already here. */
    if (p->offset > 0 && (rc = hash_file(fd, p->offset, md, NULL, buf)) < 0) {
        code = cli_fail(cli_errno_exit(rc), what, "%s: %s", shown,
                        weft_strerror(rc));
        goto out;
    }
    if (!p->to_stdout && lseek(fd, (off_t)p->offset, SEEK_SET) < 0) {
        code = cli_fail(CLI_ERR, what, "%s: %s", shown, strerror(errno));
        goto out;
    }
    req = json_pack("{s:s, s:s, s:I}", "cmd", "get", "file_name", name,
                    "offset", (json_int_t)p->offset);
    uint64_t len = 0;
    code = cli_call(s, what, req, &reply, &len);
    if (code != CLI_OK)
        goto out;
    const char *want = cli_get_str(reply, "sha256");
    int64_t total = cli_get_int(reply, "total_size", -1);
    if (want == NULL || strlen(want) != 64 ||
        (total >= 0 && (uint64_t)total != p->offset + len)) {
        cli_close(s, false);
        code = cli_fail(CLI_ERR, what,
                        want == NULL ? "the reply has no sha256 to check"
                                     : "the reply's sizes do not add up");
        goto out;
    }
    get_sink k = {.fd = fd, .md = md, .bar = &bar};
    cli_progress_begin(&bar, s->progress, cli_base_name(name), p->offset,
                       p->offset + len);
    rc = get_body(s, len, &k);
    cli_progress_end(&bar, rc == 0);
    char note[96];
    snprintf(note, sizeof note, " after %llu of %llu bytes%s",
             (unsigned long long)bar.done,
             (unsigned long long)(p->offset + len),
             p->to_stdout ? "" : " (get -c resumes)");
    if (k.err == -EINTR) {
        cli_close(s, false); /* the rest of the body is unread */
        code = cli_fail(CLI_ERR, what, "interrupted%s", note);
        goto out;
    }
    if (k.err < 0) {
        cli_close(s, false);
        code = cli_fail(cli_errno_exit(k.err), what, "%s: %s", shown,
                        weft_strerror(k.err));
        goto out;
    }
    if (rc < 0) {
        code = cli_conn_fail(s, what, rc, note);
        goto out;
    }
    char got[65];
    sha256_hex(md, got);
    if (strcasecmp(got, want) != 0) {
        /* Bad bytes are no base for a resume: drop them, unless they are
         * the user's own file being continued in place. */
        if (!p->to_stdout && !p->in_place)
            unlink(p->work.data);
        code = cli_fail(CLI_CHECKSUM, what,
                        "checksum mismatch: the download is damaged%s",
                        p->to_stdout || p->in_place ? "" : " (removed)");
        goto out;
    }
    if (!p->to_stdout) {
        int64_t mtime = cli_get_int(reply, "mtime", -1);
        if (mtime >= 0) {
            struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
                                     {.tv_sec = (time_t)mtime}};
            futimens(fd, ts);
        }
        rc = close(fd) < 0 ? -errno : 0;
        fd = -1;
        if (rc == 0 && !p->in_place && rename(p->work.data, p->dest.data) < 0)
            rc = -errno;
        if (rc < 0) {
            code = cli_fail(cli_errno_exit(rc), what, "%s: %s", p->dest.data,
                            weft_strerror(rc));
            goto out;
        }
    }
    if (s->json) {
        json_object_set_new(reply, "local",
                            json_string(p->to_stdout ? "-" : p->dest.data));
        /* With -o -, stdout carries the file: keep the JSON off it. */
        if (!p->to_stdout)
            cli_print_json(reply);
    }
out:
    if (fd >= 0 && fd != STDOUT_FILENO)
        close(fd);
    if (code != CLI_OK && created && bar.done == 0)
        unlink(p->work.data);
    json_decref(req);
    json_decref(reply);
    free(buf);
    EVP_MD_CTX_free(md);
    return code;
}

int cli_cmd_get(cli_session *s, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"continue", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool cont = false;
    int c;
    cli_opts_reset();
    while ((c = getopt_long(argc, argv, "o:c", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'c')
            cont = true;
        else
            return cli_bad_option(argv);
    }
    if (argc - optind != 1)
        return cli_usage(argv[0], "one NAME wanted");
    const char *name = argv[optind];
    if (cont && out != NULL && strcmp(out, "-") == 0)
        return cli_usage(argv[0], "-c cannot continue a download to stdout");
    char wbuf[CLI_WHAT_MAX];
    const char *what = cli_what(wbuf, "get", name);
    get_paths p = {.dest = WEFT_BUF_INIT, .work = WEFT_BUF_INIT};
    int rc = get_plan(&p, name, out, cont);
    int code = rc == -EINVAL ? cli_usage(argv[0], "NAME names no file")
               : rc < 0      ? cli_fail(CLI_ERR, what, "%s", weft_strerror(rc))
                             : get_run(s, name, &p, what);
    weft_buf_free(&p.dest);
    weft_buf_free(&p.work);
    return code;
}

/* ---- put ---------------------------------------------------------------- */

/* -c: what the server holds of name. *offset gets the partial upload's
 * size (0 if none); *done is set when the whole file is there already. */
static int put_resume_point(cli_session *s, const char *what, const char *name,
                            uint64_t size, const char *sha, uint64_t *offset,
                            bool *done)
{
    json_t *req = json_pack("{s:s, s:s}", "cmd", "stat", "path", name);
    json_t *reply = NULL;
    int code = cli_connect(s, what);
    if (code == CLI_OK)
        code = cli_send(s, what, req);
    if (code == CLI_OK)
        code = cli_recv_any(s, what, &reply, NULL);
    json_decref(req);
    if (code != CLI_OK)
        return code;
    *offset = 0;
    *done = false;
    const char *error = cli_get_str(reply, "error");
    bool ok = json_is_true(json_object_get(reply, "ok"));
    if (!ok && (error == NULL || strcmp(error, "not_found") != 0)) {
        code = cli_reply_error(s, what, reply);
        json_decref(reply);
        return code;
    }
    /* A name with only a partial upload may be "not_found" with a
     * partial_size (weftd answers so), or found with one. */
    int64_t partial = cli_get_int(reply, "partial_size", -1);
    const char *rsha = cli_get_str(reply, "sha256");
    if (partial > 0) {
        if ((uint64_t)partial > size)
            code = cli_fail(CLI_CONFLICT, what,
                            "the server holds %lld bytes of an upload, more "
                            "than the local file has; put without -c",
                            (long long)partial);
        *offset = (uint64_t)partial;
    } else if (ok && rsha != NULL && strcasecmp(rsha, sha) == 0 &&
               cli_get_int(reply, "size", -1) == (int64_t)size) {
        *done = true;
        if (s->json)
            cli_print_json(reply);
    }
    json_decref(reply);
    return code;
}

/* Stream bytes offset..size of fd, then read the reply. */
static int put_body(cli_session *s, const char *what, int fd, uint64_t offset,
                    uint64_t size, const char *sha, const char *label,
                    char *buf)
{
    cli_progress bar;
    uint64_t pos = offset;
    int rc = 0;
    cli_progress_begin(&bar, s->progress, label, offset, size);
    while (pos < size) {
        /* A refusal may come before the body is read (read_only,
         * too_large, quota...): stop sending and read it. */
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        if (poll(&pf, 1, 0) > 0)
            break;
        if (cli_interrupted) {
            cli_progress_end(&bar, false);
            cli_close(s, false); /* the frame cannot be finished */
            return cli_fail(CLI_ERR, what,
                            "interrupted after %llu of %llu bytes (put -c "
                            "resumes)",
                            (unsigned long long)pos, (unsigned long long)size);
        }
        size_t want = size - pos < IO_CHUNK ? (size_t)(size - pos) : IO_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cli_progress_end(&bar, false);
            cli_close(s, false); /* the frame cannot be finished */
            return n < 0 ? cli_fail(cli_errno_exit(-errno), what, "%s",
                                    strerror(errno))
                         : cli_fail(CLI_ERR, what,
                                    "the file shrank while being sent");
        }
        rc = weft_write_all(s->fd, buf, (size_t)n, NULL, s->timeout_ms);
        if (rc < 0)
            break;
        pos += (uint64_t)n;
        cli_progress_add(&bar, (uint64_t)n);
    }
    cli_progress_end(&bar, pos == size && rc == 0);
    if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET)
        return cli_conn_fail(s, what, rc, NULL);
    /* Sent in full, or refused early (the server may have closed after
     * answering): the reply says which. */
    json_t *reply = NULL;
    int code = cli_recv(s, what, &reply, NULL);
    if (code == CLI_OK && pos < size) {
        code = cli_fail(CLI_ERR, what, "answered before the body was sent");
    } else if (code == CLI_OK) {
        const char *rsha = cli_get_str(reply, "sha256");
        if (rsha != NULL && strcasecmp(rsha, sha) != 0)
            code = cli_fail(CLI_CHECKSUM, what,
                            "the server stored a different sha256");
        else if (s->json)
            cli_print_json(reply);
    }
    if (pos < size)
        cli_close(s, false); /* the server does not read on */
    json_decref(reply);
    return code;
}

static int put_run(cli_session *s, const char *file, const char *name,
                   bool cont, const char *what)
{
    /* Local errors name the file when NAME is another name. */
    const char *local = strcmp(file, name) != 0 ? file : NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(cli_errno_exit(-errno), what, "%s%s%s",
                        local ? local : "", local ? ": " : "", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail(CLI_CONFLICT, what, "%s%snot a regular file",
                        local ? local : "", local ? ": " : "");
    }
    uint64_t size = (uint64_t)st.st_size, offset = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char *buf = malloc(IO_CHUNK);
    json_t *req = NULL;
    char sha[65];
    bool done = false;
    int code = CLI_OK, rc;
    if (md == NULL || buf == NULL ||
        !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        code = cli_fail(CLI_ERR, what, "out of memory");
        goto out;
    }
    /* First pass: the hash the server will check. */
    cli_progress bar;
    cli_progress_begin(&bar, s->progress && size > 0, "sha256", 0, size);
    rc = hash_file(fd, size, md, &bar, buf);
    cli_progress_end(&bar, rc == 0);
    if (rc < 0) {
        code = cli_fail(cli_errno_exit(rc), what, "%s%s%s", local ? local : "",
                        local ? ": " : "", weft_strerror(rc));
        goto out;
    }
    sha256_hex(md, sha);
    if (cont) {
        code = put_resume_point(s, what, name, size, sha, &offset, &done);
        if (code != CLI_OK || done)
            goto out;
    }
    req = json_pack("{s:s, s:s, s:s, s:I, s:I}", "cmd", "put", "file_name",
                    name, "sha256", sha, "offset", (json_int_t)offset,
                    "total_size", (json_int_t)size);
    code = cli_connect(s, what);
    if (code != CLI_OK)
        goto out;
    if (req == NULL) {
        code = cli_fail(CLI_ERR, what, "out of memory");
        goto out;
    }
    rc = weft_frame_send_header(s->fd, req, size - offset, s->timeout_ms);
    if (rc < 0) {
        code = cli_conn_fail(s, what, rc, NULL);
        goto out;
    }
    code = put_body(s, what, fd, offset, size, sha, cli_base_name(name), buf);
out:
    close(fd);
    json_decref(req);
    free(buf);
    EVP_MD_CTX_free(md);
    return code;
}

int cli_cmd_put(cli_session *s, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"continue", no_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
    bool cont = false;
    int c;
    cli_opts_reset();
    while ((c = getopt_long(argc, argv, "c", longopts, NULL)) != -1) {
        if (c != 'c')
            return cli_bad_option(argv);
        cont = true;
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_usage(argv[0], "FILE and at most one NAME wanted");
    const char *file = argv[optind];
    const char *arg = argc - optind == 2 ? argv[optind + 1] : NULL;
    const char *base = cli_base_name(file);
    if (*base == '\0')
        return cli_usage(argv[0], "FILE names no file");
    /* NAME defaults to FILE's last component; a NAME ending in / is a
     * folder to put it in. */
    weft_buf name = WEFT_BUF_INIT;
    int rc = arg == NULL ? weft_buf_append_str(&name, base)
             : cli_ends_with_slash(arg)
                 ? weft_buf_appendf(&name, "%s%s", arg, base)
                 : weft_buf_append_str(&name, arg);
    char wbuf[CLI_WHAT_MAX];
    const char *what = cli_what(wbuf, "put", rc == 0 ? name.data : file);
    int code = rc < 0 ? cli_fail(CLI_ERR, what, "%s", weft_strerror(rc))
                      : put_run(s, file, name.data, cont, what);
    weft_buf_free(&name);
    return code;
}
