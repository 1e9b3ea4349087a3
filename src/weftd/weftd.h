/* weftd.h - weftd's own interfaces, shared by its files (nothing here is
 * part of libweft).
 *
 *   main.c     start-up: options, the library folder, listening, systemd
 *   config.c   the command line and the config file
 *   log.c      log lines to stderr or --log FILE
 *   path.c     the client path checker (pure; fuzzed by fuzz_weftd_path)
 *   fs.c       every file system access: confinement beneath the library,
 *              listing, atomic uploads and their partials, quota walk
 *   sha.c      SHA-256 of files, cached in an xattr
 *   proto.c    the connection handler: frames in, commands, replies out
 *   users.c    the users file (--users) and `weftd passwd`
 *   auth.c     logins: argon2id verification, failed logins rate-limited
 *              per client address in memory shared by every process
 *   confine.c  after binding: the privilege drop (--user) and Landlock
 *   web.c      HTTP/1.1 on the same port (http*.c parse it)
 *
 * Untrusted bytes are read in proto.c (frames and their fields) and
 * path.c (paths); fs.c is the only file that turns a path into a
 * descriptor, always beneath the library's directory descriptor.
 *
 * Threads and fork: the configuration is written once by main() before
 * the server starts and only read afterwards, by every handler in every
 * model. The one thing the handlers change together is the login rate
 * limiter (auth.c): a weft_dict in shared memory, created before the
 * server starts, so the processes of the fork and prefork models share it.
 */
#ifndef WEFTD_H
#define WEFTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include <weft/weft.h>

#define WEFTD_PROTOCOL_VERSION 1
#define WEFTD_MAX_PATH         4096        /* bytes in a client path, in all */
#define WEFTD_MAX_NAME         255         /* bytes in one component */
#define WEFTD_PARTIAL_TTL_S    (24 * 3600) /* partial uploads kept this long */

/* The library: its directory descriptor and how paths are resolved. */
struct weftd_root {
    int fd;          /* O_RDONLY | O_DIRECTORY, never closed while serving */
    bool no_openat2; /* walk component by component (old kernels, tests) */
};

/* One line of the users file. */
struct weftd_user {
    char *name;     /* 1 .. WEFTD_USER_MAX bytes of [A-Za-z0-9._@-] */
    char *hash;     /* crypto_pwhash_str's "$argon2id$..." */
    char *root;     /* a library path (weftd_path_check), "" for all */
    bool read_only; /* "ro" */
};

#define WEFTD_USER_MAX     64   /* bytes in a user name */
#define WEFTD_PASSWORD_MAX 1024 /* bytes in a password */

struct weftd_users {
    struct weftd_user *v;
    size_t n;
};

/* Logins, when the server has users (see auth.c). */
typedef struct weftd_auth weftd_auth;

/* What the handlers read; filled by main() before serving. */
struct weftd_config {
    struct weftd_root root;
    const char *root_path; /* for messages */
    bool read_only;
    uint64_t max_upload; /* bytes in one request body */
    uint64_t quota;      /* bytes in the whole library; 0: none */
    weftd_auth *auth;    /* NULL: no users, no login */
    /* libweft's TLS context (weft/tls.h), NULL without --tls-cert. With
     * it, a connection that starts with a TLS handshake is served through
     * TLS; a plain one only from this machine (loopback, unix socket). */
    weft_tls_ctx *tls;
    /* HTTP Basic logins also over plain connections from beyond this
     * machine (--insecure-http-auth). */
    bool insecure_http_auth;
};

/* ---- config.c ----------------------------------------------------------- */

/* Options as given; unset fields are 0 / NULL. */
struct weftd_options {
    const char *root;
    const char **listen; /* malloc'd array */
    size_t n_listen;
    const char *model;
    int workers;
    int max_conns;
    int read_only; /* -1 unset, 0, 1 */
    uint64_t max_upload;
    uint64_t quota;
    const char *log;
    const char *config;
    const char *users;      /* --users FILE */
    const char *tls_cert;   /* --tls-cert FILE (PEM chain) */
    const char *tls_key;    /* --tls-key FILE (PEM; default: in tls_cert) */
    const char *user;       /* --user NAME: drop to this user after binding */
    int insecure_public;    /* -1 unset, 0, 1: serve beyond loopback unauthed */
    int insecure_http_auth; /* -1 unset, 0, 1: HTTP Basic over plain too */
    int io_ms, idle_ms;     /* --io-timeout, --idle-timeout (0: unset) */
    int no_landlock;        /* -1 unset, 0, 1 */
    int login_max;          /* --login-limit N/SECONDS */
    int login_window;
    bool has_workers, has_max_conns, has_max_upload, has_quota;
    bool has_login_limit;
    char **owned; /* strings read from the config file */
    size_t n_owned;
};

/* Parse the command line (getopt_long) into o, then the config file it
 * names, whose values fill only what the command line left unset. 0; 1
 * when --help or --version was answered (exit 0); -1 after printing one
 * line to stderr (exit 2). Strings point into argv or into memory o
 * owns; weftd_options_free releases it, in every case. */
int weftd_options_parse(int argc, char **argv, struct weftd_options *o);
/* Release what parse allocated (o's strings then become invalid). */
void weftd_options_free(struct weftd_options *o);
/* "512", "64K", "10M", "1G", "2T" (binary multiples, optional "B" or
 * "iB"): 0 and *out, or -1. */
int weftd_parse_size(const char *s, uint64_t *out);

/* ---- main.c ------------------------------------------------------------- */

/* 1 if only this machine can reach a (loopback or unix socket). */
int weftd_addr_is_local(const weft_addr *a);

/* ---- log.c -------------------------------------------------------------- */

/* Send log lines to fd (stderr by default); each line is one write(2),
 * so lines of several processes do not mix. Call before serving. */
void weftd_log_init(int fd);
void weftd_log(int level, const char *fmt, ...) WEFT_PRINTF(2, 3);
/* For weft_log_set: libweft's messages go the same way. */
void weftd_log_weft(int level, const char *msg, void *ud);

/* ---- path.c ------------------------------------------------------------- */

/* Check a client path p[0..len): 0 if it is a valid library path ("" is
 * the library itself), -EINVAL if not: absolute, "." or ".." or empty
 * components, a component over 255 bytes or all over 4096, a NUL,
 * invalid UTF-8, a component starting with ".weft". Reads nothing past
 * len. */
int weftd_path_check(const char *p, size_t len);
/* 1 if s[0..len) is valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF), else 0. */
int weftd_utf8_valid(const char *s, size_t len);
/* The last component of a path (after its last '/'). */
const char *weftd_path_base(const char *p);

/* ---- sha.c -------------------------------------------------------------- */

typedef struct weftd_sha weftd_sha;

/* A running SHA-256: NULL without memory. */
weftd_sha *weftd_sha_new(void);
void weftd_sha_update(weftd_sha *s, const void *p, size_t n);
/* Feed len bytes of fd from offset 0: 0 or -errno (-EIO if it is
 * shorter). */
int weftd_sha_add_fd(weftd_sha *s, int fd, uint64_t len);
/* The digest in lower-case hex (65 bytes with the NUL); frees s. */
void weftd_sha_final(weftd_sha *s, char hex[65]);
void weftd_sha_free(weftd_sha *s);
/* The hex digest of a short text (for names of partial uploads). */
void weftd_sha_text(const char *p, size_t n, char hex[65]);
/* The SHA-256 of the regular file open on fd (st its fstat): from the
 * user.weft.sha256 xattr when it matches st's size and mtime, otherwise
 * computed and stored there (best effort). 0 or -errno. */
int weftd_sha_file(int fd, const struct stat *st, char hex[65]);
/* Record hex as fd's digest for the version st describes (best effort). */
void weftd_sha_store(int fd, const struct stat *st, const char *hex);

/* ---- hasher.c ----------------------------------------------------------- */

/* A SHA-256 computed on a thread of its own (hasher.c says why). */
typedef struct weftd_hasher weftd_hasher;

/* Start hashing on a new thread, continuing sha (which the hasher owns
 * until weftd_hasher_end). 0 or -errno. */
int weftd_hasher_start(weftd_hasher **out, weftd_sha *sha);
/* Hash p[0..n) after what came before: copies it and returns; waits
 * (yielding, in a coroutine) only while the thread is behind by a few
 * MiB. 0 or -errno (-ECANCELED). */
int weftd_hasher_feed(weftd_hasher *h, const void *p, size_t n);
/* Stop: with finish, after every byte fed is hashed; without, dropping
 * what is queued. Frees h and hands sha back. */
weftd_sha *weftd_hasher_end(weftd_hasher *h, bool finish);

/* ---- fs.c --------------------------------------------------------------- */

/* Open path (checked by weftd_path_check) beneath the library with flags
 * (O_CLOEXEC added): symlinks are followed only while they stay inside.
 * The descriptor, or -ENOENT, -ENOTDIR, -EXDEV / -ELOOP (leads out),
 * -errno. */
int weftd_open(const struct weftd_root *r, const char *path, int flags);
/* Open the folder that holds path's last component (O_RDONLY |
 * O_DIRECTORY), and point *name at that component. path must not be "". */
int weftd_open_parent(const struct weftd_root *r, const char *path,
                      const char **name);

/* One entry of a folder: its name, "file", "dir" or "other" (a symlink
 * is described by what it leads to, if that is inside), its size (files)
 * and modification time (seconds). */
struct weftd_entry {
    const char *name;
    const char *type;
    uint64_t size;
    int64_t mtime;
};
/* A non-zero return stops the listing, which returns it. */
typedef int (*weftd_entry_cb)(void *ud, const struct weftd_entry *e);
/* Call cb for each entry of the folder path, sorted by name, without
 * .weft* names and names that are not valid UTF-8. 0 and *count (may be
 * NULL), -errno, or cb's return. */
int weftd_list_each(const struct weftd_root *r, const char *path,
                    weftd_entry_cb cb, void *ud, size_t *count);
/* The entries of the folder path as the body of a list reply (a JSON
 * array sorted by name, without .weft* names), written into body (reset
 * first): 0 and *count, or -errno. */
int weftd_list(const struct weftd_root *r, const char *path, weft_buf *body,
               size_t *count);
/* mkdir, with parents: 0, -EEXIST, -ENOENT, -ENOTDIR, -errno. */
int weftd_mkdir(const struct weftd_root *r, const char *path, bool parents);
/* Remove a file, or a folder whose only entries are weftd's own: 0,
 * -ENOENT, -ENOTEMPTY, -errno. */
int weftd_delete(const struct weftd_root *r, const char *path);
/* Bytes in regular files of the library (weftd's own names excluded,
 * symlinks not followed). */
int weftd_usage(const struct weftd_root *r, uint64_t *bytes);
/* The size of the partial upload of path (0 when there is none or it
 * expired). */
uint64_t weftd_partial_size(const struct weftd_root *r, const char *path);

/* An upload being received. It writes to a hidden file in the target
 * folder's .weft-partial/ folder, and becomes the file (commit), a
 * partial for a later resume (keep), or nothing (abort). */
struct weftd_upload {
    int dir_fd;           /* the target folder */
    int part_fd;          /* its .weft-partial folder */
    int fd;               /* the hidden file being written */
    char tmp[40];         /* its name in part_fd */
    char part[72];        /* the name of this file's partial in part_fd */
    char name[256];       /* the final name in dir_fd */
    weftd_sha *sha;       /* of every byte from 0 */
    weftd_hasher *hasher; /* hashing sha on a thread, or NULL: inline */
    uint64_t size;        /* bytes in the file so far */
    uint64_t flushed;     /* bytes handed to write-back (sync_file_range) */
    int werr;             /* the first write error (-errno), 0 if none */
};

/* Start receiving path at offset (0, or the size of its partial, which is
 * taken over). 0; -ENOENT (no such folder), -ENOTDIR, -EISDIR (path is a
 * folder), -ERANGE (offset is neither; *partial_size says what is held),
 * -EXDEV / -ELOOP, -ENOMEM, -errno. */
int weftd_upload_begin(const struct weftd_root *r, const char *path,
                       uint64_t offset, struct weftd_upload *u,
                       uint64_t *partial_size);
/* Hash the bytes that follow on a thread of its own (a large upload: the
 * hash then no longer slows the receiving). 0, or -errno and u hashes
 * inline as before. */
int weftd_upload_hash_async(struct weftd_upload *u);
/* Append n bytes; a write error is remembered in u->werr and the bytes
 * that follow are dropped (the caller still reads the whole body). */
void weftd_upload_write(struct weftd_upload *u, const void *p, size_t n);
/* The SHA-256 of every byte of u, in hex (once all are written). */
void weftd_upload_digest(struct weftd_upload *u, char hex[65]);
/* Make the file visible: fsync, rename over path, fsync the folder.
 * hex is its SHA-256. 0 or -errno (-ENOSPC, -EISDIR...). Closes u. */
int weftd_upload_commit(struct weftd_upload *u, const char *hex);
/* Keep what was received as the partial of path, for a resume (nothing
 * received: nothing kept). Closes u. */
void weftd_upload_keep(struct weftd_upload *u);
/* Drop the upload; nothing of it stays. Closes u. */
void weftd_upload_abort(struct weftd_upload *u);

/* ---- users.c ------------------------------------------------------------ */

/* Read the users file: 0, or -1 after printing "weftd: FILE:LINE: why"
 * on stderr. The file is read once, at start-up (before any privilege
 * drop and confinement): a change needs a restart. */
int weftd_users_load(const char *file, struct weftd_users *out);
void weftd_users_free(struct weftd_users *u);
/* 1 if s is a valid user name, else 0. */
int weftd_user_name_ok(const char *s, size_t len);
/* `weftd passwd ...` (argv[0] is "passwd"): the exit status. */
int weftd_passwd_main(int argc, char **argv);

/* ---- auth.c ------------------------------------------------------------- */

#define WEFTD_LOGIN_MAX_DEFAULT    5  /* failed logins from one address */
#define WEFTD_LOGIN_WINDOW_DEFAULT 60 /* ... within this many seconds */

/* Set up logins for users (kept; owned by the caller): libsodium, the
 * dummy hash that unknown names are checked against, and the shared rate
 * limiter (max_fails failures within window_s seconds lock the address
 * out for window_s seconds). Call before the server starts (forks). 0 or
 * -errno (printed). */
int weftd_auth_create(weftd_auth **out, const struct weftd_users *users,
                      int max_fails, int window_s);
void weftd_auth_destroy(weftd_auth *a);

enum { WEFTD_LOGIN_OK = 0, WEFTD_LOGIN_FAILED = 1, WEFTD_LOGIN_LIMITED = 2 };

/* Check a login from peer: WEFTD_LOGIN_OK and *user; WEFTD_LOGIN_FAILED
 * (wrong name or password: the same work is done for both);
 * WEFTD_LOGIN_LIMITED and *retry_after (seconds) when peer's address has
 * failed too often; or -errno (-EAGAIN: too many logins being checked at
 * once). Blocks for the hash (tens of milliseconds). */
int weftd_auth_login(weftd_auth *a, const weft_addr *peer, const char *name,
                     const char *password, size_t password_len,
                     const struct weftd_user **user, int *retry_after);

/* ---- confine.c ---------------------------------------------------------- */

/* Look up NAME for --user: 0 and *uid, *gid; -1 after printing why. */
int weftd_user_lookup(const char *name, uid_t *uid, gid_t *gid);
/* Become name (uid, gid) for good: supplementary groups, gid, uid, and a
 * check that root cannot be regained. 0, or -1 after printing why. */
int weftd_drop_privileges(const char *name, uid_t uid, gid_t gid);
/* Confine this process and its future threads and children with
 * Landlock: file system access only beneath root_fd (the library), and
 * no execution. 0 and the ABI version in *abi when active; -ENOSYS /
 * -EOPNOTSUPP where the kernel has no Landlock; -errno. */
int weftd_landlock(int root_fd, int *abi);

/* ---- proto.c ------------------------------------------------------------ */

/* The weft_server handler: one call per connection; arg is the
 * struct weftd_config. */
void weftd_handle(weft_request *req, void *arg);
/* ---- web.c -------------------------------------------------------------- */

/* Serve HTTP/1.1 on fd (the client's socket, or the TLS pump's end when
 * tls) until the client closes, idles out or breaks the protocol. peer
 * names the client in the log. */
void weftd_web_serve(weft_request *req, const struct weftd_config *cfg, int fd,
                     bool tls, const char *peer);

/* The max_conns refusal: a frame {"ok":false,"error":"busy",...}, into
 * out. 0 or -ENOMEM. */
int weftd_refusal(weft_buf *out);

#endif
