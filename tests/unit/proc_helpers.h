/* proc_helpers.h - what the process tests look at from outside: zombies
 * in /proc and the disappearance of a process. Header-only, for tests. */
#ifndef WEFT_TEST_PROC_HELPERS_H
#define WEFT_TEST_PROC_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Children of this process in state Z, read from /proc; -1 if /proc cannot
 * be read. */
static inline int count_zombies(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char path[300], buf[512], *p, st;
        int ppid;
        FILE *f;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        p = fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        fclose(f);
        /* The name in parentheses may hold spaces: parse after it. */
        if (p && sscanf(p + 2, "%c %d", &st, &ppid) == 2 && ppid == getpid() &&
            st == 'Z')
            n++;
    }
    closedir(d);
    return n;
}

/* 1 if pid (not necessarily our child) is gone within ms, else 0. */
static inline int gone_within(pid_t pid, int ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd pfd;
    int rc;

    if (fd < 0)
        return errno == ESRCH;
    pfd.fd = fd;
    pfd.events = POLLIN;
    rc = poll(&pfd, 1, ms);
    close(fd);
    return rc == 1;
}

#endif
