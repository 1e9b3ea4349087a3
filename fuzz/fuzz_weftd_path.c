/* fuzz_weftd_path.c - weftd's client path checker and its confinement,
 * fed arbitrary bytes as a path.
 *
 * Every weftd command names a path a stranger wrote. For any bytes:
 *   - weftd_path_check (src/weftd/path.c) never crashes or reads past
 *     the input, and what it accepts has none of what docs/PROTOCOL.md
 *     refuses (checked here by a second, naive implementation: "..",
 *     ".", empty and over-long components, NUL, ".weft*", over 4096
 *     bytes), and is valid UTF-8 by jansson's own test;
 *   - a path it accepts, opened by weftd_open (src/weftd/fs.c) beneath a
 *     small library that holds symlinks out ("/", "..", an absolute one)
 *     and in, with openat2 and with the fallback walk, gives a descriptor
 *     whose real path is inside the library, or an error - never a file
 *     outside.
 *
 * Built (fuzz/CMakeLists.txt) with path.c and fs.c; the SHA-256 calls fs.c
 * makes for uploads are stubbed below (no upload runs here).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../src/weftd/weftd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- stubs for sha.c (fs.c's upload code, unused here) ------------------ */

weftd_sha *weftd_sha_new(void)
{
    return NULL;
}
void weftd_sha_update(weftd_sha *s, const void *p, size_t n)
{
    (void)s, (void)p, (void)n;
}
int weftd_sha_add_fd(weftd_sha *s, int fd, uint64_t len)
{
    (void)s, (void)fd, (void)len;
    return -ENOSYS;
}
void weftd_sha_free(weftd_sha *s)
{
    (void)s;
}
void weftd_sha_text(const char *p, size_t n, char hex[65])
{
    (void)p, (void)n;
    memset(hex, '0', 64);
    hex[64] = '\0';
}
void weftd_sha_store(int fd, const struct stat *st, const char *hex)
{
    (void)fd, (void)st, (void)hex;
}
void weftd_sha_final(weftd_sha *s, char hex[65])
{
    (void)s;
    memset(hex, '0', 64);
    hex[64] = '\0';
}

/* ---- the library fixture ---------------------------------------------- */

static char lib_path[4096];
static struct weftd_root lib = {.fd = -1};

static const char *const links[][2] = {
    {"escape", "/"},        {"up", ".."},
    {"sub/up2", "../.."},   {"inside", "sub"},
    {"sub/back", "../sub"}, {"proc", "/proc/self/root"},
    {"loop", "loop"},       {"etc", "../../../../../etc"},
};

/* The fixture goes when the process ends. */
static void remove_library(void)
{
    static const char *const files[] = {"abs", "sub/in.txt"};
    char p[4200];
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", lib_path, links[i][0]);
        unlink(p);
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", lib_path, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/sub", lib_path);
    rmdir(p);
    rmdir(lib_path);
}

static void make_library(void)
{
    char tmpl[] = "/tmp/fuzz_weftd_path.XXXXXX", p[4200];
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, lib_path) == NULL)
        abort();
    snprintf(p, sizeof p, "%s/sub", lib_path);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sub/in.txt", lib_path);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", lib_path, links[i][0]);
        if (symlink(links[i][1], p) < 0 && errno != EEXIST)
            abort();
    }
    snprintf(p, sizeof p, "%s/abs", lib_path);
    char target[4200];
    snprintf(target, sizeof target, "%s/sub", lib_path);
    if (symlink(target, p) < 0)
        abort();
    lib.fd = open(lib_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lib.fd < 0)
        abort();
    atexit(remove_library);
}

/* The naive second opinion: 1 if p[0..n) is acceptable. */
static int naive_ok(const char *p, size_t n)
{
    if (n == 0)
        return 1;
    if (n > 4096 || memchr(p, '\0', n) != NULL)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t len = i - start;
        const char *c = p + start;
        if (len == 0 || len > 255 || (len == 1 && c[0] == '.') ||
            (len == 2 && c[0] == '.' && c[1] == '.') ||
            (len >= 5 && strncmp(c, ".weft", 5) == 0))
            return 0;
        start = i + 1;
    }
    return 1;
}

/* Open path beneath the library; a descriptor must be inside it. */
static void open_inside(const char *path, bool no_openat2)
{
    static const int flags[] = {O_PATH, O_RDONLY | O_NONBLOCK,
                                O_RDONLY | O_DIRECTORY};
    lib.no_openat2 = no_openat2;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int fd = weftd_open(&lib, path, flags[i]);
        if (fd < 0)
            continue;
        char link[64], real[4200];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, real, sizeof real - 1);
        close(fd);
        if (n < 0)
            abort();
        real[n] = '\0';
        size_t l = strlen(lib_path);
        if (strncmp(real, lib_path, l) != 0 ||
            (real[l] != '\0' && real[l] != '/')) {
            fprintf(stderr, "ESCAPED: '%s' opened %s\n", path, real);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    if (lib.fd < 0)
        make_library();

    int rc = weftd_path_check(p, size);
    if (rc != 0 && rc != -EINVAL)
        abort();
    if (rc == 0) {
        if (!naive_ok(p, size))
            abort();
        json_t *s = json_stringn(p, size);
        if (s == NULL)
            abort(); /* accepted bytes that are not UTF-8 */
        json_decref(s);
    } else if (naive_ok(p, size)) {
        /* Refused only for its UTF-8: jansson must agree. */
        json_t *s = json_stringn(p, size);
        if (s != NULL)
            abort();
    }
    if (rc == 0 && size < 4097) {
        char *path = strndup(p, size);
        if (path == NULL)
            return 0;
        open_inside(path, false);
        open_inside(path, true);
        free(path);
    }
    return 0;
}

#ifndef WEFT_LIBFUZZER
/* Replay: each argument is one input file (as fuzz_frame does). */
int main(int argc, char **argv)
{
    static uint8_t data[8192];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "fuzz_weftd_path: cannot open %s\n", argv[i]);
            return 1;
        }
        size_t len = fread(data, 1, sizeof data, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, len);
        n++;
    }
    printf("fuzz_weftd_path: replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
#endif
