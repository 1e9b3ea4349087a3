/* daemon.c - a daemon child ends with its parent.
 *
 * Python: Process(daemon=True). A daemon child is terminated when its
 * parent exits normally, and - unlike Python - weft also makes the kernel
 * kill it when the parent dies abruptly (SIGKILL, crash), so no daemon is
 * ever left running unattended. A non-daemon child is waited for at exit.
 *
 * Here a "parent" process starts a daemon ticker and then is killed with
 * SIGKILL; the ticker stops at once.
 *
 * Run: ./build/examples/daemon
 */
#include <poll.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/weft.h>

static int ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 600; i++) { /* a minute at most, if all else fails */
        printf("  daemon tick %d (pid %d, parent %d)\n", i, getpid(),
               getppid());
        fflush(stdout);
        weft_sleep_ms(100);
    }
    return 0;
}

static int parent_main(void *arg)
{
    int fd = (int)(long)arg;
    weft_process_opts o = {.name = "Ticker", .daemon = true};
    weft_process *t;
    pid_t pid;

    if (weft_process_create(&t, ticker, NULL, &o) < 0 ||
        weft_process_start(t) < 0)
        return 1;
    pid = weft_process_pid(t);
    if (write(fd, &pid, sizeof pid) != sizeof pid)
        return 1;
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    weft_process *parent;
    struct pollfd pfd;
    pid_t ticker_pid;
    int fds[2], code;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: daemon (no arguments)\n");
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep lines in order across processes */
    if (pipe(fds) < 0 || weft_process_create(&parent, parent_main,
                                             (void *)(long)fds[1], NULL) < 0)
        return 1;
    weft_process_start(parent);
    if (read(fds[0], &ticker_pid, sizeof ticker_pid) != sizeof ticker_pid)
        return 1;
    printf("parent %d started daemon %d\n", weft_process_pid(parent),
           ticker_pid);
    weft_sleep_ms(350);
    printf("killing the parent with SIGKILL\n");
    weft_process_kill(parent);
    weft_process_join(parent, -1);
    weft_process_exitcode(parent, &code);
    printf("parent exit code %d (killed by signal %d)\n", code, -code);

    pfd.fd = (int)syscall(SYS_pidfd_open, ticker_pid, 0);
    pfd.events = POLLIN;
    if (pfd.fd < 0 || poll(&pfd, 1, 1000) == 1)
        printf("daemon %d is gone too\n", ticker_pid);
    else
        printf("daemon %d still runs!\n", ticker_pid);
    weft_process_destroy(parent);
    return 0;
}
