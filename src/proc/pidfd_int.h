/* pidfd_int.h - pidfd system calls (Linux 5.3+), called directly so that
 * weft does not depend on the C library having wrappers for them. */
#ifndef WEFT_PIDFD_INT_H
#define WEFT_PIDFD_INT_H

#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* A close-on-exec pidfd for pid, or -1 with errno. */
static inline int weft__pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static inline int weft__pidfd_send_signal(int pidfd, int signo)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0);
}

#endif
