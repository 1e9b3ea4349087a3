/* zombie_orphan.c - what a zombie and an orphan are, seen in /proc.
 *
 * Zombie: a child that has exited but whose parent has not yet collected
 * its exit status. It holds a process-table slot until reaped. We make one
 * on purpose with raw fork() (weft never leaves one: its reaper collects
 * every weft child the moment it exits), show its state 'Z', then reap it.
 *
 * Orphan: a child whose parent exits first. The kernel hands it to a new
 * parent - init, or the nearest "subreaper" - which reaps it later. Here
 * this program makes itself a subreaper so the adoption is easy to see.
 *
 * Run: ./build/examples/zombie_orphan
 */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

/* The state letter and parent pid of a process, from /proc/PID/stat. */
static char proc_state(pid_t pid, pid_t *ppid)
{
    char path[64], buf[512], st = '?', *p;
    FILE *f;
    int pp = 0;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return '-';
    if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
        sscanf(p + 2, "%c %d", &st, &pp);
    fclose(f);
    if (ppid)
        *ppid = pp;
    return st;
}

/* Pipes between the program and its child: the child reports the
 * grandchild's pid, then waits for "go" before it exits. */
static int to_parent[2], to_child[2];

static int orphan_maker(void *arg)
{
    pid_t orphan;
    char go;

    (void)arg;
    orphan = fork();
    if (orphan == 0) {
        weft_sleep_ms(300); /* outlive the parent */
        _exit(0);
    }
    if (write(to_parent[1], &orphan, sizeof orphan) != sizeof orphan ||
        read(to_child[0], &go, 1) != 1)
        return 1;
    return 0; /* exit now: the grandchild becomes an orphan */
}

int main(int argc, char **argv)
{
    weft_process *p;
    pid_t zombie, orphan, ppid;
    int status;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: zombie_orphan (no arguments)\n");
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("-- zombie --\n");
    zombie = fork();
    if (zombie == 0)
        _exit(7);
    weft_sleep_ms(100);
    printf("child %d exited, not yet reaped: state '%c' (Z = zombie)\n",
           (int)zombie, proc_state(zombie, NULL));
    waitpid(zombie, &status, 0);
    printf("after waitpid: state '%c' (- = gone), exit status %d\n",
           proc_state(zombie, NULL), WEXITSTATUS(status));

    printf("-- orphan --\n");
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (pipe(to_parent) < 0 || pipe(to_child) < 0 ||
        weft_process_create(&p, orphan_maker, NULL, NULL) < 0)
        return 1;
    weft_process_start(p);
    if (read(to_parent[0], &orphan, sizeof orphan) != sizeof orphan)
        return 1;
    proc_state(orphan, &ppid);
    printf("grandchild %d has parent %d (our child %d)\n", (int)orphan,
           (int)ppid, (int)weft_process_pid(p));
    if (write(to_child[1], "g", 1) != 1)
        return 1;
    weft_process_join(p, -1);
    weft_sleep_ms(50);
    proc_state(orphan, &ppid);
    printf("child exited; orphan %d was adopted by %d (this program, pid "
           "%d, a subreaper)\n",
           (int)orphan, (int)ppid, (int)getpid());
    waitpid(orphan, &status, 0); /* the adopter reaps it */
    printf("adopter reaped the orphan: state '%c'\n", proc_state(orphan, NULL));
    weft_process_destroy(p);
    return 0;
}
