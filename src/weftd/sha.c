/* sha.c - SHA-256 (OpenSSL's EVP) of uploads and of files, computed once
 * per version of a file.
 *
 * The digest of a file is cached in its extended attribute
 * user.weft.sha256 as "SIZE MTIME_NS HEX": it is trusted only while the
 * file still has that size and modification time, so a file changed
 * behind weftd's back is hashed again. An xattr lives with the inode, so
 * every weftd process (fork, prefork) and every restart shares it. On a
 * file system without user xattrs the digest is computed on each use.
 * Uploads store it as they are committed (they were hashed while being
 * received).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "weftd.h"

#define XATTR_NAME "user.weft.sha256"
#define READ_CHUNK (256u * 1024)

struct weftd_sha {
    EVP_MD_CTX *ctx;
};

weftd_sha *weftd_sha_new(void)
{
    weftd_sha *s = malloc(sizeof *s);
    if (s == NULL)
        return NULL;
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->ctx);
        free(s);
        return NULL;
    }
    return s;
}

void weftd_sha_update(weftd_sha *s, const void *p, size_t n)
{
    EVP_DigestUpdate(s->ctx, p, n);
}

int weftd_sha_add_fd(weftd_sha *s, int fd, uint64_t len)
{
    char *buf = malloc(READ_CHUNK);
    uint64_t off = 0;
    int rc = 0;

    if (buf == NULL)
        return -ENOMEM;
    while (rc == 0 && off < len) {
        size_t want = len - off < READ_CHUNK ? (size_t)(len - off) : READ_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else if (n == 0)
            rc = -EIO;
        else {
            EVP_DigestUpdate(s->ctx, buf, (size_t)n);
            off += (uint64_t)n;
        }
    }
    free(buf);
    return rc;
}

void weftd_sha_final(weftd_sha *s, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_DigestFinal_ex(s->ctx, md, &n);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
    weftd_sha_free(s);
}

void weftd_sha_free(weftd_sha *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->ctx);
    free(s);
}

void weftd_sha_text(const char *p, size_t n, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    memset(hex, '0', 64);
    hex[64] = '\0';
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1)
        return;
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The cached digest, if it describes st: 0 and hex, else -1. */
static int cached(int fd, const struct stat *st, char hex[65])
{
    char val[128];
    ssize_t n = fgetxattr(fd, XATTR_NAME, val, sizeof val - 1);
    if (n <= 0)
        return -1;
    val[n] = '\0';

    uint64_t size;
    int64_t mt;
    char h[65];
    if (sscanf(val, "%" SCNu64 " %" SCNd64 " %64[0-9a-f]", &size, &mt, h) !=
            3 ||
        strlen(h) != 64)
        return -1;
    if (size != (uint64_t)st->st_size || mt != mtime_ns(st))
        return -1;
    memcpy(hex, h, 65);
    return 0;
}

void weftd_sha_store(int fd, const struct stat *st, const char *hex)
{
    char val[128];
    int n = snprintf(val, sizeof val, "%" PRIu64 " %" PRId64 " %s",
                     (uint64_t)st->st_size, mtime_ns(st), hex);
    /* Best effort: no xattrs (ENOTSUP), not ours (EPERM), a read-only
     * file system - the digest is then computed on each use. */
    if (n > 0 && (size_t)n < sizeof val)
        (void)fsetxattr(fd, XATTR_NAME, val, (size_t)n, 0);
}

int weftd_sha_file(int fd, const struct stat *st, char hex[65])
{
    if (cached(fd, st, hex) == 0)
        return 0;

    weftd_sha *s = weftd_sha_new();
    if (s == NULL)
        return -ENOMEM;
    int rc = weftd_sha_add_fd(s, fd, (uint64_t)st->st_size);
    if (rc < 0) {
        weftd_sha_free(s);
        return rc;
    }
    weftd_sha_final(s, hex);

    /* Store it only if the file did not change while it was read. */
    struct stat after;
    if (fstat(fd, &after) == 0 && after.st_size == st->st_size &&
        mtime_ns(&after) == mtime_ns(st))
        weftd_sha_store(fd, st, hex);
    return 0;
}
