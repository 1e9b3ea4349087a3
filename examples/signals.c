/* signals.c - signals handled in ordinary code, and SIGCHLD auto-reap.
 *
 * A classic signal handler may only call a short list of async-signal-safe
 * functions: no printf, no malloc, no locks. weft's subscriptions lift
 * that: each delivery is queued, and this program handles it later in its
 * own main loop, where printing is fine. It subscribes to SIGINT, SIGTERM,
 * SIGALRM and SIGUSR1, sets a 300 ms alarm, sends itself SIGUSR1, and ends
 * cleanly when the alarm (or Ctrl-C, or a SIGTERM) arrives.
 *
 * On the way it shows SIGCHLD auto-reap mode: with SIGCHLD ignored, the
 * kernel reaps children by itself - no zombies, but also no exit status,
 * so waitpid() finds nothing (ECHILD).
 *
 * Run: ./build/examples/signals
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

struct state {
    int64_t start_ms;
    bool done;
};

/* Runs in main's thread, from weft_signals_dispatch(): ordinary code. */
static void on_signal(const weft_signal_info *info, void *userdata)
{
    struct state *st = userdata;
    long ms = (long)(weft_now_ms() - st->start_ms);

    printf("  %4ld ms  got SIG%s", ms, weft_signal_name(info->signo));
    if (info->code == SI_USER)
        printf(" sent by pid %d%s", (int)info->pid,
               info->pid == getpid() ? " (ourselves)" : "");
    switch (info->signo) {
    case SIGALRM:
        printf(": the alarm rang, time to go\n");
        st->done = true;
        break;
    case SIGINT:
    case SIGTERM:
        printf(": stopping early\n");
        st->done = true;
        break;
    default:
        printf("\n");
    }
}

/* Fork a child that exits at once, with SIGCHLD ignored, and try to
 * collect its status. */
static void show_auto_reap(void)
{
    pid_t pid;

    if (weft_signal_ignore_children(true) < 0)
        return;
    fflush(stdout); /* or the child would print our buffer again */
    pid = fork();
    if (pid == 0)
        _exit(3);
    if (pid > 0) {
        /* waitpid() waits for the child to end, then finds it gone. */
        if (waitpid(pid, NULL, 0) < 0)
            printf("  auto-reap: child %d gone, waitpid: %s (status lost)\n",
                   (int)pid, strerror(errno));
        else
            printf("  auto-reap: child %d was a zombie after all?\n", (int)pid);
    }
    weft_signal_ignore_children(false);
}

int main(void)
{
    static const int signos[] = {SIGINT, SIGTERM, SIGALRM, SIGUSR1};
    struct state st = {weft_now_ms(), false};
    weft_signals *s;
    int rc;

    rc = weft_signals_open(&s, signos, sizeof signos / sizeof signos[0]);
    if (rc < 0) {
        fprintf(stderr, "weft_signals_open: %s\n", weft_strerror(rc));
        return 1;
    }
    printf("pid %d: subscribed to INT, TERM, ALRM, USR1; alarm in 300 ms "
           "(Ctrl-C stops early)\n",
           (int)getpid());
    weft_signal_alarm(300);
    weft_signal_send(getpid(), SIGUSR1);
    /* Already queued: the handler ran inside the call above. */
    weft_signals_dispatch(s, on_signal, &st, 0);

    show_auto_reap();

    while (!st.done) {
        rc = weft_signals_dispatch(s, on_signal, &st, -1);
        if (rc < 0) {
            fprintf(stderr, "weft_signals_dispatch: %s\n", weft_strerror(rc));
            break;
        }
    }
    weft_signal_alarm(0);  /* if Ctrl-C came first */
    weft_signals_close(s); /* SIGINT & co. are back to their defaults */
    printf("closed; bye\n");
    return rc < 0 ? 1 : 0;
}
