/* daemonize.c - the classic double fork: a daemon with no parent to wait
 * for it and no terminal to take back.
 *
 * Python (the recipe every course shows):
 *     if os.fork() > 0: os._exit(0)   # 1: the parent returns to the shell
 *     os.setsid()                     # 2: a new session, no terminal
 *     if os.fork() > 0: os._exit(0)   # 3: not a session leader any more
 *     os.chdir("/"); os.umask(0)      # 4: hold no directory, no mask
 *     redirect 0, 1, 2 to /dev/null   # 5: no terminal descriptors
 *
 * The first child is an orphan as soon as its parent exits (here the
 * program waits for it instead, so it is not left a zombie); setsid()
 * makes it the leader of a new session with no controlling terminal; the
 * second fork leaves a grandchild that is not a session leader, so it can
 * never acquire a terminal again, and whose parent is gone: the kernel
 * gives it to init (or the nearest subreaper), which reaps it when it
 * ends. The daemon writes what it observes about itself to a log file,
 * ticks a few times and exits; this program reads the log and prints it.
 *
 * This is a "daemon" in the Unix sense. Python's Process(daemon=True)
 * (weft: weft_process_opts.daemon, see daemon.c) means something else: a
 * child killed when its parent exits.
 *
 * Run: ./build/examples/daemonize [--log FILE] [--ticks N]
 * Expect: the steps, then the daemon's own report: a parent that is not
 * us, session leader: no, controlling terminal: none, cwd /, umask 0000,
 * its ticks, "daemon: done".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

/* In the daemon: stdout is /dev/null, so everything goes to the log. */
static void daemon_main(const char *log, int ticks, pid_t first_child)
{
    char cwd[256];
    mode_t old;
    FILE *f;
    int fd, i;

    /* Wait until the first child has exited and we were adopted. */
    for (i = 0; i < 200 && getppid() == first_child; i++)
        weft_sleep_ms(5);
    if (chdir("/") < 0)
        _exit(1);
    umask(0);
    old = umask(0); /* read it back: 0 */
    fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        _exit(1);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    f = fopen(log, "a");
    if (!f)
        _exit(1);
    setvbuf(f, NULL, _IOLBF, 0);
    fprintf(f, "daemon: pid %d, parent %d (the first child %d is gone)\n",
            (int)getpid(), (int)getppid(), (int)first_child);
    fprintf(f, "daemon: session %d, group %d: session leader: %s\n",
            (int)getsid(0), (int)getpgrp(),
            getsid(0) == getpid() ? "yes" : "no");
    fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
        fprintf(f, "daemon: controlling terminal: still there!\n");
        close(fd);
    } else {
        fprintf(f, "daemon: controlling terminal: none (/dev/tty: %s)\n",
                strerror(errno));
    }
    fprintf(f, "daemon: cwd %s, umask %04o, stdin/out/err on /dev/null\n",
            getcwd(cwd, sizeof cwd) ? cwd : "?", (unsigned)old);
    for (i = 1; i <= ticks; i++) {
        weft_sleep_ms(50);
        fprintf(f, "daemon: tick %d\n", i);
    }
    fprintf(f, "daemon: done\n");
    fclose(f);
    _exit(0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"log", required_argument, NULL, 'l'},
        {"ticks", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    char deflog[256], line[256];
    const char *log = NULL;
    int ticks = 3, c, status, i, done = 0;
    pid_t child;
    FILE *f;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;

        switch (c) {
        case 'l':
            log = optarg;
            break;
        case 't':
            ticks = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end || ticks < 0 || ticks > 100) {
                fprintf(stderr, "daemonize: --ticks wants 0..100, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: daemonize [--log FILE] [--ticks N]\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "daemonize: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!log) {
        const char *tmp = getenv("TMPDIR");

        snprintf(deflog, sizeof deflog, "%s/weft-daemonize-%d.log",
                 tmp && *tmp ? tmp : "/tmp", (int)getpid());
        log = deflog;
    }
    if (log[0] != '/') {
        /* The daemon moves to "/": a relative name would land there. */
        fprintf(stderr, "daemonize: --log wants an absolute path\n");
        return 2;
    }
    f = fopen(log, "w"); /* start empty; the daemon appends */
    if (!f) {
        fprintf(stderr, "daemonize: %s: %s\n", log, strerror(errno));
        return 1;
    }
    fclose(f);

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("program: pid %d, session %d; the daemon logs to %s\n",
           (int)getpid(), (int)getsid(0), log);
    fflush(stdout);
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        pid_t me = getpid(), grandchild;

        if (setsid() < 0) /* 2: leader of a new session, no terminal */
            _exit(1);
        grandchild = fork(); /* 3 */
        if (grandchild < 0)
            _exit(1);
        if (grandchild == 0)
            daemon_main(log, ticks, me);
        printf("first child %d: setsid() made session %d; forked %d, "
               "exiting\n",
               (int)me, (int)getsid(0), (int)grandchild);
        _exit(0);
    }
    /* 1: a real daemon's parent would _exit(0) here; we reap the first
     * child instead (it exits at once) so that it is not a zombie. */
    waitpid(child, &status, 0);
    printf("program: first child %d exited with %d; its child is the "
           "daemon\n",
           (int)child, WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* Follow the log until the daemon says it is done (5 s at most). */
    for (i = 0; i < 500 && !done; i++) {
        weft_sleep_ms(10);
        f = fopen(log, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f))
            if (strcmp(line, "daemon: done\n") == 0)
                done = 1;
        fclose(f);
    }
    f = fopen(log, "r");
    if (!f)
        return 1;
    printf("the daemon's log:\n");
    while (fgets(line, sizeof line, f))
        printf("  %s", line);
    fclose(f);
    if (!done) {
        printf("program: the daemon did not finish in 5 s\n");
        return 1;
    }
    printf("program: the daemon finished; init (or a subreaper) reaps it\n");
    if (log == deflog)
        unlink(log); /* ours to clean; a --log file is the caller's */
    return 0;
}
