/* region.c - shared memory regions: anonymous MAP_SHARED mappings that
 * forked children inherit, and named POSIX shared-memory objects that
 * unrelated processes open by name. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/shm_int.h"

/* Longest name component; with the leading '/' and the NUL it fits
 * NAME_BUF, and it stays well below NAME_MAX (255) of /dev/shm. */
#define NAME_MAX_LEN 200
#define NAME_BUF     (NAME_MAX_LEN + 2)

struct weft_region {
    void *addr;  /* start of the mapping */
    size_t size; /* bytes mapped: whole pages */
};

/* Round size up to whole pages; 0 on overflow. */
static size_t page_round(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (size > SIZE_MAX - (page - 1))
        return 0;
    return (size + page - 1) & ~(page - 1);
}

/* Check a user's name and write the form shm_open() wants ("/name") to
 * buf. Strict, so that a name can never reach outside /dev/shm or mean
 * the directory itself: one component of 1..200 bytes, an optional
 * leading '/', no other '/', not "." or "..". */
static int name_check(const char *name, char buf[NAME_BUF])
{
    size_t len;

    if (!name)
        return -EINVAL;
    if (name[0] == '/')
        name++;
    len = strnlen(name, NAME_MAX_LEN + 1);
    if (len == 0 || len > NAME_MAX_LEN)
        return -EINVAL;
    if (memchr(name, '/', len))
        return -EINVAL;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EINVAL;
    buf[0] = '/';
    memcpy(buf + 1, name, len + 1);
    return 0;
}

static int region_new(weft_region **out, void *addr, size_t size)
{
    weft_region *r = malloc(sizeof *r);

    if (!r)
        return -ENOMEM;
    r->addr = addr;
    r->size = size;
    *out = r;
    return 0;
}

int weft__region_create_anon(weft_region **out, size_t size, int mmap_flags)
{
    void *addr;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (size == 0)
        return -EINVAL;
    size = page_round(size);
    if (size == 0)
        return -ENOMEM;
    addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS | mmap_flags, -1, 0);
    if (addr == MAP_FAILED)
        return -ENOMEM;
    rc = region_new(out, addr, size);
    if (rc < 0)
        munmap(addr, size);
    return rc;
}

int weft_region_create(weft_region **out, size_t size)
{
    return weft__region_create_anon(out, size, 0);
}

int weft_region_create_named(weft_region **out, const char *name, size_t size,
                             unsigned mode)
{
    char path[NAME_BUF];
    void *addr = MAP_FAILED;
    int fd, rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = name_check(name, path);
    if (rc < 0)
        return rc;
    if (size == 0 || (mode & ~07777u))
        return -EINVAL;
    size = page_round(size);
    if (size == 0 || size > (size_t)INT64_MAX)
        return -ENOMEM;
    fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return -errno;
    /* From here on the name is ours: any failure removes it again, so a
     * half-made region never lingers in /dev/shm. */
    if (ftruncate(fd, (off_t)size) < 0) {
        rc = -errno;
        goto fail;
    }
    /* Reserve the memory now: on a full /dev/shm this fails here with
     * -ENOSPC, where a sparse object would deliver SIGBUS to whichever
     * process first touched a page that has no room. Filesystems without
     * fallocate keep the sparse object. */
    do
        rc = posix_fallocate(fd, 0, (off_t)size);
    while (rc == EINTR);
    if (rc != 0 && rc != EOPNOTSUPP && rc != ENOSYS) {
        rc = -rc;
        goto fail;
    }
    addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    rc = region_new(out, addr, size);
    if (rc < 0)
        goto fail;
    close(fd);
    return 0;

fail:
    if (addr != MAP_FAILED)
        munmap(addr, size);
    close(fd);
    shm_unlink(path);
    return rc;
}

int weft_region_open(weft_region **out, const char *name)
{
    char path[NAME_BUF];
    struct stat st;
    void *addr;
    size_t size;
    int fd, rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = name_check(name, path);
    if (rc < 0)
        return rc;
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    /* Size 0: its creator has not sized it yet (or it is not weft's). */
    if (st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return st.st_size == 0 ? -EAGAIN : -EINVAL;
    }
    size = (size_t)st.st_size;
    addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    rc = addr == MAP_FAILED ? -errno : 0;
    close(fd); /* the mapping keeps the object */
    if (rc < 0)
        return rc;
    rc = region_new(out, addr, size);
    if (rc < 0)
        munmap(addr, size);
    return rc;
}

void *weft_region_addr(const weft_region *r)
{
    return r ? r->addr : NULL;
}

size_t weft_region_size(const weft_region *r)
{
    return r ? r->size : 0;
}

int weft_region_close(weft_region *r)
{
    int rc = 0;

    if (!r)
        return 0;
    if (munmap(r->addr, r->size) < 0)
        rc = -errno;
    free(r);
    return rc;
}

int weft_region_unlink(const char *name)
{
    char path[NAME_BUF];
    int rc = name_check(name, path);

    if (rc < 0)
        return rc;
    return shm_unlink(path) < 0 ? -errno : 0;
}
