/* fs.c - every file system access weftd makes, all beneath the library.
 *
 * Confinement. A client path (already checked by path.c) is opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from the library's
 * directory descriptor: ".." and absolute symlinks cannot leave it
 * (EXDEV), /proc-style magic links are refused (ELOOP), and a symlink
 * inside the library is followed only while it stays inside. Where the
 * kernel has no openat2 (ENOSYS, Linux < 5.6) the path is walked one
 * component at a time with O_NOFOLLOW, which refuses every symlink
 * (ELOOP). Nothing here ever builds an absolute path.
 *
 * Atomic uploads. An upload is written to a hidden file
 * .weft-partial/t-RANDOM in the target's own folder (same file system),
 * hashed as it arrives, fsync'ed, then renamed over the target and the
 * folder fsync'ed: readers see the old file or the whole new one, never a
 * mixture, and a crash leaves only the hidden file. An upload cut short
 * is renamed to .weft-partial/p-SHA256(name) (its "partial"), which a put
 * with that offset takes over; partials expire after 24 hours, and
 * hidden files left by a crash after one hour. Names starting with .weft
 * are neither listed nor reachable by clients (path.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "weftd.h"

#define PARTIAL_DIR   ".weft-partial"
#define TMP_STALE_S   3600 /* a hidden upload file untouched this long */
#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

/* ---- confinement --------------------------------------------------------- */

static int sys_openat2(int dirfd, const char *path, int flags, uint64_t resolve)
{
    struct open_how how = {.flags = (uint64_t)flags, .resolve = resolve};
    for (int tries = 0;; tries++) {
        long rc = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (rc >= 0)
            return (int)rc;
        /* EAGAIN: a rename raced the lookup; the kernel asks to retry. */
        if ((errno != EAGAIN && errno != EINTR) || tries == 16)
            return -errno;
    }
}

/* The fallback: one component at a time, never following a symlink. */
static int walk_open(int rootfd, const char *path, int flags)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -ENOMEM;
    int cur = rootfd, fd = -1;
    char *comp = copy, *slash;
    while ((slash = strchr(comp, '/')) != NULL) {
        *slash = '\0';
        fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        struct stat st;
        /* A symlink met on the way is ENOTDIR here: say ELOOP. */
        if (fd < 0 && err == ENOTDIR &&
            fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
            err = ELOOP;
        if (cur != rootfd)
            close(cur);
        if (fd < 0) {
            free(copy);
            return -err;
        }
        cur = fd;
        comp = slash + 1;
    }
    fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    if (cur != rootfd)
        close(cur);
    free(copy);
    if (fd < 0)
        return -err;
    if (flags & O_PATH) {
        /* O_PATH | O_NOFOLLOW opens a symlink itself: refuse it. */
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(fd);
            return -ELOOP;
        }
    }
    return fd;
}

int weftd_open(const struct weftd_root *r, const char *path, int flags)
{
    const char *p = path[0] != '\0' ? path : ".";
    if (!r->no_openat2) {
        int fd = sys_openat2(r->fd, p, flags | O_CLOEXEC, RESOLVE_FLAGS);
        if (fd != -ENOSYS)
            return fd;
    }
    return walk_open(r->fd, p, flags);
}

int weftd_open_parent(const struct weftd_root *r, const char *path,
                      const char **name)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        *name = path;
        return weftd_open(r, "", O_RDONLY | O_DIRECTORY);
    }
    char *parent = strndup(path, (size_t)(slash - path));
    if (parent == NULL)
        return -ENOMEM;
    int fd = weftd_open(r, parent, O_RDONLY | O_DIRECTORY);
    free(parent);
    *name = slash + 1;
    return fd;
}

/* Like weftd_open with O_NOFOLLOW semantics for the walk used by the
 * quota: no symlink at all (a symlink to an ancestor would loop). */
static int open_dir_nofollow(const struct weftd_root *r, const char *path)
{
    const char *p = path[0] != '\0' ? path : ".";
    if (!r->no_openat2) {
        int fd = sys_openat2(r->fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                             RESOLVE_FLAGS | RESOLVE_NO_SYMLINKS);
        if (fd != -ENOSYS)
            return fd;
    }
    return walk_open(r->fd, p, O_RDONLY | O_DIRECTORY);
}

static int own_name(const char *name)
{
    return strncmp(name, ".weft", 5) == 0;
}

/* path + "/" + name (or name alone at the top), on the heap. */
static char *join(const char *path, const char *name)
{
    size_t a = strlen(path), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s == NULL)
        return NULL;
    if (a > 0) {
        memcpy(s, path, a);
        s[a++] = '/';
    }
    memcpy(s + a, name, b + 1);
    return s;
}

/* -EXDEV or -ELOOP if name in dfd is a symlink that leads out of the
 * library (or any symlink, in the fallback walk), else 0. */
static int link_leads_out(const struct weftd_root *r, int dfd, const char *name,
                          const char *path)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISLNK(st.st_mode))
        return 0;
    int fd = weftd_open(r, path, O_PATH);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return fd == -EXDEV || fd == -ELOOP ? fd : 0;
}

/* ---- list ---------------------------------------------------------------- */

/* Names collected from readdir: their bytes, NUL-separated, in one
 * buffer, and their offsets in another - two allocations for a whole
 * folder instead of one per name. */
struct names {
    weft_buf text;
    size_t *off;
    size_t n, cap;
};

/* qsort's comparison has no context argument: the names' buffer goes
 * through this (per thread: handlers list folders on several threads; a
 * coroutine cannot switch inside qsort). */
static _Thread_local const char *names_base;

static int by_name(const void *a, const void *b)
{
    return strcmp(names_base + *(const size_t *)a,
                  names_base + *(const size_t *)b);
}

static int names_add(struct names *ns, const char *name, size_t len)
{
    if (ns->n == ns->cap) {
        size_t ncap = ns->cap ? ns->cap * 2 : 256;
        size_t *no = realloc(ns->off, ncap * sizeof *no);
        if (no == NULL)
            return -ENOMEM;
        ns->off = no;
        ns->cap = ncap;
    }
    ns->off[ns->n] = ns->text.len;
    if (weft_buf_append(&ns->text, name, len + 1) < 0)
        return -ENOMEM;
    ns->n++;
    return 0;
}

/* Append s as a JSON string. Names are valid UTF-8 (checked before), so
 * only the quote, the backslash and control characters need escapes. */
static int json_str(weft_buf *b, const char *s)
{
    int rc = weft_buf_append(b, "\"", 1);
    while (rc == 0 && *s) {
        size_t run = 0;
        while (s[run] && s[run] != '"' && s[run] != '\\' &&
               (unsigned char)s[run] >= 0x20)
            run++;
        rc = weft_buf_append(b, s, run);
        s += run;
        if (rc == 0 && *s) {
            rc = *s == '"' ? weft_buf_append(b, "\\\"", 2)
                 : *s == '\\'
                     ? weft_buf_append(b, "\\\\", 2)
                     : weft_buf_appendf(b, "\\u%04x", (unsigned char)*s);
            s++;
        }
    }
    return rc == 0 ? weft_buf_append(b, "\"", 1) : rc;
}

/* One entry of a listing: what name (in the folder dfd, at path) is. */
static void describe(const struct weftd_root *r, int dfd, const char *path,
                     const char *name, struct weftd_entry *e)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        memset(&st, 0, sizeof st);
    if (S_ISLNK(st.st_mode)) {
        /* Described by what it points to, if that stays inside. */
        char *full = join(path, name);
        int fd = full != NULL ? weftd_open(r, full, O_PATH) : -ENOMEM;
        free(full);
        struct stat target;
        if (fd >= 0 && fstat(fd, &target) == 0)
            st = target;
        else
            st.st_size = 0;
        if (fd >= 0)
            close(fd);
    }
    e->name = name;
    e->type = S_ISREG(st.st_mode)   ? "file"
              : S_ISDIR(st.st_mode) ? "dir"
                                    : "other";
    e->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    e->mtime = (int64_t)st.st_mtim.tv_sec;
}

int weftd_list_each(const struct weftd_root *r, const char *path,
                    weftd_entry_cb cb, void *ud, size_t *count)
{
    int fd = weftd_open(r, path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct names ns = {.text = WEFT_BUF_INIT};
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || own_name(nm) ||
            !weftd_utf8_valid(nm, len))
            continue; /* a name JSON cannot carry is unreachable anyway */
        rc = names_add(&ns, nm, len);
    }
    if (rc == 0 && ns.n > 1) {
        names_base = ns.text.data;
        qsort(ns.off, ns.n, sizeof *ns.off, by_name);
    }
    for (size_t i = 0; rc == 0 && i < ns.n; i++) {
        struct weftd_entry e;
        describe(r, dirfd(d), path, ns.text.data + ns.off[i], &e);
        rc = cb(ud, &e);
    }
    free(ns.off);
    weft_buf_free(&ns.text);
    closedir(d);
    if (rc < 0)
        return rc;
    if (count != NULL)
        *count = ns.n;
    return 0;
}

/* weftd_list's callback: one entry as a JSON object, after a comma
 * unless it is the first. */
static int json_entry(void *ud, const struct weftd_entry *e)
{
    weft_buf *b = ud;
    int rc = b->len > 1 ? weft_buf_append(b, ",", 1) : 0;
    if (rc == 0)
        rc = weft_buf_append_str(b, "{\"name\":");
    if (rc == 0)
        rc = json_str(b, e->name);
    if (rc == 0)
        rc = weft_buf_appendf(
            b, ",\"type\":\"%s\",\"size\":%llu,\"mtime\":%lld}", e->type,
            (unsigned long long)e->size, (long long)e->mtime);
    return rc;
}

/* Written as text straight into one buffer (no JSON object per entry):
 * a 10,000-file folder is listed many times a second. */
int weftd_list(const struct weftd_root *r, const char *path, weft_buf *body,
               size_t *count)
{
    weft_buf_reset(body);
    int rc = weft_buf_append(body, "[", 1);
    if (rc == 0)
        rc = weftd_list_each(r, path, json_entry, body, count);
    if (rc == 0)
        rc = weft_buf_append(body, "]", 1);
    return rc == -EMSGSIZE ? -ENOMEM : rc;
}

/* ---- mkdir, delete ------------------------------------------------------- */

static int mkdir_one(const struct weftd_root *r, const char *path)
{
    const char *name;
    int dfd = weftd_open_parent(r, path, &name);
    if (dfd < 0)
        return dfd;
    int rc = mkdirat(dfd, name, 0755) < 0 ? -errno : 0;
    if (rc == 0)
        fsync(dfd);
    close(dfd);
    return rc;
}

int weftd_mkdir(const struct weftd_root *r, const char *path, bool parents)
{
    if (!parents)
        return mkdir_one(r, path);
    /* Each prefix in turn: "a", "a/b", "a/b/c" (mkdir -p). */
    char *pre = strdup(path);
    if (pre == NULL)
        return -ENOMEM;
    size_t len = strlen(path);
    int rc = 0;
    for (size_t i = 1; rc == 0 && i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        pre[i] = '\0';
        rc = mkdir_one(r, pre);
        if (rc == -EEXIST) {
            int fd = weftd_open(r, pre, O_PATH | O_DIRECTORY);
            if (fd >= 0) {
                close(fd);
                rc = 0;
            } else {
                rc = i == len ? -EEXIST : -ENOTDIR;
            }
        }
        if (i < len)
            pre[i] = '/';
    }
    free(pre);
    return rc;
}

/* Empty a folder of weftd's own entries (partials) if it holds nothing
 * else: 0 if the folder may now be removed, -ENOTEMPTY if not. */
static int clear_own(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -ENOMEM;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            !own_name(de->d_name))
            rc = -ENOTEMPTY;
    if (rc == 0) {
        rewinddir(d);
        while ((de = readdir(d)) != NULL) {
            if (!own_name(de->d_name))
                continue;
            if (unlinkat(fd, de->d_name, 0) == 0)
                continue;
            /* .weft-partial: its files, then itself. */
            int sub = openat(fd, de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
            struct dirent *se;
            while (sd != NULL && (se = readdir(sd)) != NULL)
                unlinkat(sub, se->d_name, 0);
            if (sd != NULL)
                closedir(sd);
            else if (sub >= 0)
                close(sub);
            unlinkat(fd, de->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
    return rc;
}

int weftd_delete(const struct weftd_root *r, const char *path)
{
    const char *name;
    int dfd = weftd_open_parent(r, path, &name);
    if (dfd < 0)
        return dfd;
    struct stat st;
    int rc = link_leads_out(r, dfd, name, path);
    if (rc < 0)
        ;
    else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        rc = -errno;
    else if (S_ISDIR(st.st_mode)) {
        rc = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
        if (rc == -ENOTEMPTY || rc == -EEXIST) {
            rc = clear_own(dfd, name);
            if (rc == 0)
                rc = unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
        }
    } else {
        rc = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
    }
    if (rc == 0)
        fsync(dfd);
    close(dfd);
    return rc == -EEXIST ? -ENOTEMPTY : rc;
}

/* ---- quota --------------------------------------------------------------- */

int weftd_usage(const struct weftd_root *r, uint64_t *bytes)
{
    /* Depth first with a stack of folder paths on the heap: no recursion
     * (coroutine stacks are small) and one open folder at a time. */
    char **stack = malloc(sizeof *stack);
    size_t n = 0, cap = 1;
    uint64_t sum = 0;
    int rc = 0;

    if (stack == NULL || (stack[n] = strdup("")) == NULL) {
        free(stack);
        return -ENOMEM;
    }
    n++;
    while (n > 0) {
        char *dir = stack[--n];
        int fd = open_dir_nofollow(r, dir);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d == NULL && fd >= 0)
            close(fd);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            struct stat st;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                own_name(de->d_name) ||
                fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            if (S_ISREG(st.st_mode)) {
                sum += (uint64_t)st.st_size;
                continue;
            }
            if (!S_ISDIR(st.st_mode))
                continue;
            char *sub = join(dir, de->d_name);
            if (sub == NULL) {
                rc = -ENOMEM;
                break;
            }
            if (n == cap) {
                char **ns = realloc(stack, 2 * cap * sizeof *ns);
                if (ns == NULL) {
                    free(sub);
                    rc = -ENOMEM;
                    break;
                }
                stack = ns;
                cap *= 2;
            }
            stack[n++] = sub;
        }
        if (d != NULL)
            closedir(d);
        free(dir);
        if (rc < 0)
            break;
    }
    while (n > 0)
        free(stack[--n]);
    free(stack);
    *bytes = sum;
    return rc;
}

/* ---- partial uploads ------------------------------------------------------
 */

static void partial_name(const char *name, char out[72])
{
    char hex[65];
    weftd_sha_text(name, strlen(name), hex);
    snprintf(out, 72, "p-%s", hex);
}

/* Remove expired partials and hidden files a crash left behind. */
static void sweep(int pfd)
{
    int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *de;
    struct stat st;
    while ((de = readdir(d)) != NULL) {
        long ttl = de->d_name[0] == 'p'   ? WEFTD_PARTIAL_TTL_S
                   : de->d_name[0] == 't' ? TMP_STALE_S
                                          : -1;
        if (ttl > 0 && fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            now - st.st_mtim.tv_sec > ttl)
            unlinkat(fd, de->d_name, 0);
    }
    closedir(d);
}

uint64_t weftd_partial_size(const struct weftd_root *r, const char *path)
{
    const char *name;
    char part[72];
    struct stat st;
    uint64_t size = 0;

    if (path[0] == '\0')
        return 0;
    int dfd = weftd_open_parent(r, path, &name);
    if (dfd < 0)
        return 0;
    int pfd = openat(dfd, PARTIAL_DIR,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (pfd < 0)
        return 0;
    partial_name(name, part);
    if (fstatat(pfd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
        if (time(NULL) - st.st_mtim.tv_sec > WEFTD_PARTIAL_TTL_S)
            unlinkat(pfd, part, 0);
        else
            size = (uint64_t)st.st_size;
    }
    close(pfd);
    return size;
}

static void upload_close(struct weftd_upload *u)
{
    if (u->fd >= 0)
        close(u->fd);
    if (u->part_fd >= 0)
        close(u->part_fd);
    if (u->dir_fd >= 0)
        close(u->dir_fd);
    if (u->hasher != NULL)
        u->sha = weftd_hasher_end(u->hasher, false);
    u->hasher = NULL;
    weftd_sha_free(u->sha);
    u->fd = u->part_fd = u->dir_fd = -1;
    u->sha = NULL;
}

/* Take over the partial of u->name, which must hold offset bytes. */
static int take_partial(struct weftd_upload *u, uint64_t offset,
                        uint64_t *partial_size)
{
    struct stat st;
    *partial_size = 0;
    if (fstatat(u->part_fd, u->part, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode) ||
        time(NULL) - st.st_mtim.tv_sec > WEFTD_PARTIAL_TTL_S)
        return -ERANGE;
    *partial_size = (uint64_t)st.st_size;
    if ((uint64_t)st.st_size != offset)
        return -ERANGE;
    /* The rename is the claim: of two resumes at once, one gets it. */
    if (renameat(u->part_fd, u->part, u->part_fd, u->tmp) < 0)
        return errno == ENOENT ? -ERANGE : -errno;
    u->fd = openat(u->part_fd, u->tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (u->fd < 0)
        return -errno;
    /* Fresh again: the sweep removes hidden files untouched for an hour,
     * and a partial may be older than that. */
    futimens(u->fd, NULL);
    if (fstat(u->fd, &st) < 0)
        st.st_size = 0;
    if ((uint64_t)st.st_size != offset) {
        /* Changed between the check and the claim: give it back. */
        *partial_size = (uint64_t)st.st_size;
        renameat(u->part_fd, u->tmp, u->part_fd, u->part);
        close(u->fd);
        u->fd = -1;
        return -ERANGE;
    }
    int rc = weftd_sha_add_fd(u->sha, u->fd, offset);
    if (rc == 0 && lseek(u->fd, 0, SEEK_END) < 0)
        rc = -errno;
    u->size = offset;
    u->flushed = offset;
    return rc;
}

int weftd_upload_begin(const struct weftd_root *r, const char *path,
                       uint64_t offset, struct weftd_upload *u,
                       uint64_t *partial_size)
{
    const char *name;
    unsigned char rnd[8];
    struct stat st;
    int rc;

    memset(u, 0, sizeof *u);
    u->dir_fd = u->part_fd = u->fd = -1;
    *partial_size = 0;
    u->dir_fd = weftd_open_parent(r, path, &name);
    if (u->dir_fd < 0) {
        rc = u->dir_fd;
        goto fail;
    }
    snprintf(u->name, sizeof u->name, "%s", name);
    /* A symlink inside is replaced by the file; one leading out is
     * refused, as everywhere else. */
    rc = link_leads_out(r, u->dir_fd, name, path);
    if (rc < 0)
        goto fail;
    if (fstatat(u->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        goto fail;
    }
    if (mkdirat(u->dir_fd, PARTIAL_DIR, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    u->part_fd = openat(u->dir_fd, PARTIAL_DIR,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (u->part_fd < 0) {
        rc = -errno;
        goto fail;
    }
    sweep(u->part_fd);
    partial_name(name, u->part);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        rc = -EIO;
        goto fail;
    }
    snprintf(u->tmp, sizeof u->tmp, "t-%02x%02x%02x%02x%02x%02x%02x%02x",
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    u->sha = weftd_sha_new();
    if (u->sha == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (offset > 0) {
        rc = take_partial(u, offset, partial_size);
        if (rc < 0)
            goto fail;
        return 0;
    }
    u->fd = openat(u->part_fd, u->tmp,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (u->fd < 0) {
        rc = -errno;
        goto fail;
    }
    return 0;
fail:
    if (u->fd >= 0)
        unlinkat(u->part_fd, u->tmp, 0);
    upload_close(u);
    return rc;
}

#define WRITEBACK_STEP ((uint64_t)8 << 20)

void weftd_upload_write(struct weftd_upload *u, const void *p, size_t n)
{
    const char *c = p;
    if (u->werr != 0)
        return;
    if (u->hasher == NULL) {
        weftd_sha_update(u->sha, p, n);
    } else {
        int rc = weftd_hasher_feed(u->hasher, p, n);
        if (rc < 0) {
            u->werr = rc;
            return;
        }
    }
    while (n > 0) {
        ssize_t w = write(u->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            u->werr = w < 0 ? -errno : -EIO;
            return;
        }
        c += w;
        n -= (size_t)w;
        u->size += (uint64_t)w;
    }
    /* Start write-back every 8 MiB while the rest arrives, so the fsync
     * at commit finds little left to write (a 1 GiB fsync otherwise
     * waits ~0.6 s here for the whole file). */
    if (u->size - u->flushed >= WRITEBACK_STEP) {
        sync_file_range(u->fd, (off_t)u->flushed, (off_t)(u->size - u->flushed),
                        SYNC_FILE_RANGE_WRITE);
        u->flushed = u->size;
    }
}

int weftd_upload_hash_async(struct weftd_upload *u)
{
    if (u->hasher != NULL)
        return 0;
    return weftd_hasher_start(&u->hasher, u->sha);
}

void weftd_upload_digest(struct weftd_upload *u, char hex[65])
{
    if (u->hasher != NULL)
        u->sha = weftd_hasher_end(u->hasher, true);
    u->hasher = NULL;
    weftd_sha_final(u->sha, hex);
    u->sha = NULL;
}

int weftd_upload_commit(struct weftd_upload *u, const char *hex)
{
    struct stat st;
    int rc = 0;

    if (fsync(u->fd) < 0 || fstat(u->fd, &st) < 0)
        rc = -errno;
    if (rc == 0) {
        weftd_sha_store(u->fd, &st, hex);
        if (renameat(u->part_fd, u->tmp, u->dir_fd, u->name) < 0)
            rc = -errno;
    }
    if (rc < 0) {
        weftd_upload_abort(u);
        return rc;
    }
    fsync(u->dir_fd);
    /* A fresh version supersedes an older interrupted upload. */
    unlinkat(u->part_fd, u->part, 0);
    upload_close(u);
    return 0;
}

void weftd_upload_keep(struct weftd_upload *u)
{
    if (u->size == 0 || u->werr != 0) {
        weftd_upload_abort(u);
        return;
    }
    fsync(u->fd);
    if (renameat(u->part_fd, u->tmp, u->part_fd, u->part) < 0)
        unlinkat(u->part_fd, u->tmp, 0);
    upload_close(u);
}

void weftd_upload_abort(struct weftd_upload *u)
{
    if (u->part_fd >= 0 && u->fd >= 0)
        unlinkat(u->part_fd, u->tmp, 0);
    upload_close(u);
}
