/* confine.c - what weftd gives up after binding, before it serves: root's
 * privileges (--user NAME) and, where the kernel has Landlock, access to
 * the file system beyond the library.
 *
 * Order (main.c): bind (weft_server_create; a port below 1024 needs
 * root), drop privileges, confine, serve. Everything weftd must open
 * outside the library is opened before: the library's folder, the log
 * file (kept open), the users file (read whole at start-up), the
 * libraries' own files (OpenSSL and libsodium are initialised first).
 *
 * Landlock (Linux 5.13+; landlock(7)) restricts the calling thread and
 * every thread and process it starts later, for good: weftd handles every
 * file system right the kernel's ABI knows, and allows beneath the
 * library only reading, writing, making and removing files and folders,
 * renaming and linking between its folders (REFER) and truncating - not
 * executing, not making devices, FIFOs, sockets or symlinks. Outside the
 * library nothing can be opened. Descriptors opened before (the log, the
 * sockets) keep working. The threads of the models are started later, by
 * weft_server_run, so they are all confined.
 *
 * A build with AddressSanitizer (make check) also may read /proc: its
 * LeakSanitizer lists the process's threads and mappings there at exit,
 * and would fail without. Release builds do not have that rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "weftd.h"

/* Rights of later ABIs than the system's header may know. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

/* Built with AddressSanitizer (gcc's macro, or clang's feature test)? */
#if defined(__SANITIZE_ADDRESS__)
#define WEFTD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFTD_ASAN 1
#endif
#endif
#ifndef WEFTD_ASAN
#define WEFTD_ASAN 0
#endif

int weftd_user_lookup(const char *name, uid_t *uid, gid_t *gid)
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (pw == NULL) {
        fprintf(stderr, "weftd: --user %s: %s\n", name,
                errno != 0 ? strerror(errno) : "no such user");
        return -1;
    }
    if (pw->pw_uid == 0) {
        fprintf(stderr, "weftd: --user %s: that is root\n", name);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int weftd_drop_privileges(const char *name, uid_t uid, gid_t gid)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;

    if (initgroups(name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        fprintf(stderr, "weftd: cannot become %s: %s\n", name, strerror(errno));
        return -1;
    }
    /* setuid as root sets all three ids; check it did, and that root
     * cannot be had back. */
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != uid ||
        e != uid || s != uid || rg != gid || eg != gid || sg != gid ||
        setuid(0) == 0 || setgid(0) == 0) {
        fprintf(stderr, "weftd: the privilege drop to %s did not hold\n", name);
        return -1;
    }
    return 0;
}

int weftd_landlock(int root_fd, int *abi_out)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
                       LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0)
        return -errno; /* ENOSYS, EOPNOTSUPP: no Landlock here */

    /* Every right this kernel knows is handled (denied unless allowed). */
    __u64 handled = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
    if (abi >= 2)
        handled |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        handled |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    __u64 allowed =
        handled &
        (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
         LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
         LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
         LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER |
         LANDLOCK_ACCESS_FS_TRUNCATE);

    struct landlock_ruleset_attr ra = {.handled_access_fs = handled};
    int rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
    if (rs < 0)
        return -errno;
    struct landlock_path_beneath_attr pb = {.allowed_access = allowed,
                                            .parent_fd = root_fd};
    int rc = 0;
    if (WEFTD_ASAN) {
        /* LeakSanitizer's /proc, read-only (see above). */
        int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct landlock_path_beneath_attr pp = {
            .allowed_access = handled & (LANDLOCK_ACCESS_FS_READ_FILE |
                                         LANDLOCK_ACCESS_FS_READ_DIR),
            .parent_fd = proc};
        if (proc >= 0) {
            syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pp,
                    0);
            close(proc);
        }
    }
    if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) <
            0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_landlock_restrict_self, rs, 0) < 0)
        rc = -errno;
    close(rs);
    if (rc == 0)
        *abi_out = (int)abi;
    return rc;
}
