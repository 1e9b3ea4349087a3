/* signals.c - signal handlers, alarm and pause; signals handled in
 * ordinary code; SIGCHLD auto-reap.
 *
 * Part 1 is the course's version:
 *     signal.signal(signal.SIGINT, handler)   # Ctrl-C no longer kills us
 *     signal.signal(signal.SIGALRM, handler)
 *     signal.alarm(...); signal.pause()
 * A child process plays the user pressing Ctrl-C (it sends SIGINT 100 ms
 * in); the handler, installed with sigaction, only sets a flag and
 * write()s a line. pause() sleeps until a signal has been handled: it
 * returns for SIGINT, and after an alarm of 300 ms, once more for SIGALRM.
 * (pause() has a famous race: a signal that lands between the flag check and
 * the call is missed, and pause() sleeps on. sigsuspend() closes it; weft's
 * subscriptions below avoid it altogether.)
 *
 * Part 2: a classic signal handler may only call a short list of
 * async-signal-safe functions: no printf, no malloc, no locks. weft's
 * subscriptions lift that: each delivery is queued, and this program handles it
 * later in its own main loop, where printing is fine. It subscribes to SIGINT,
 * SIGTERM, SIGALRM and SIGUSR1, sets a 300 ms alarm, sends itself SIGUSR1, and
 * ends cleanly when the alarm (or Ctrl-C, or a SIGTERM) arrives.
 *
 * On the way it shows SIGCHLD auto-reap mode: with SIGCHLD ignored, the
 * kernel reaps children by itself - no zombies, but also no exit status,
 * so waitpid() finds nothing (ECHILD).
 *
 * Run: ./build/examples/signals
 * Expect: "[handler] SIGINT caught", "pause() returned: SIGINT", "pause()
 * returned: SIGALRM after ~300 ms"; then "got SIGUSR1 sent by pid ...
 * (ourselves)", the auto-reap line (waitpid: No child processes), "got
 * SIGALRM: the alarm rang", "closed; bye".
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

/* ---- Part 1: handlers, alarm, pause ------------------------------------ */

static volatile sig_atomic_t got_int, got_alrm;

/* Handlers may only touch sig_atomic_t flags and call async-signal-safe
 * functions such as write(); printf here could deadlock. */
static void on_sigint(int signo)
{
    static const char msg[] = "  [handler] SIGINT caught: Ctrl-C does not "
                              "kill this program\n";
    ssize_t n;

    (void)signo;
    got_int = 1;
    n = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)n;
}

static void on_sigalrm(int signo)
{
    (void)signo;
    got_alrm = 1;
}

static int classic(void)
{
    struct sigaction sa, old_int, old_alrm;
    int64_t t0;
    pid_t kid;

    printf("-- part 1: sigaction handlers, alarm and pause --\n");
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;
    if (sigaction(SIGINT, &sa, &old_int) < 0)
        return -1;
    sa.sa_handler = on_sigalrm;
    if (sigaction(SIGALRM, &sa, &old_alrm) < 0)
        return -1;
    fflush(stdout); /* or the child would print our buffer again */
    kid = fork();
    if (kid == 0) { /* the user, pressing Ctrl-C */
        weft_sleep_ms(100);
        kill(getppid(), SIGINT);
        _exit(0);
    }
    if (kid < 0)
        return -1;
    while (!got_int)
        pause(); /* returns after a handler ran */
    printf("  pause() returned: SIGINT; now an alarm in 300 ms, and pause "
           "again\n");
    t0 = weft_now_ms();
    weft_signal_alarm(300); /* signal.alarm, in milliseconds */
    while (!got_alrm)
        pause();
    printf("  pause() returned: SIGALRM after %lld ms: the alarm rang\n",
           (long long)(weft_now_ms() - t0));
    waitpid(kid, NULL, 0);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGALRM, &old_alrm, NULL);
    return 0;
}

/* ---- Part 2: weft's subscriptions, SIGCHLD auto-reap ------------------ */

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

int main(int argc, char **argv)
{
    static const int signos[] = {SIGINT, SIGTERM, SIGALRM, SIGUSR1};
    struct state st;
    weft_signals *s;
    int rc;

    if (argc > 1) {
        fprintf(stderr, "usage: signals (no arguments)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (classic() < 0) {
        fprintf(stderr, "signals: part 1 failed\n");
        return 1;
    }
    printf("-- part 2: signals handled in ordinary code --\n");
    st.start_ms = weft_now_ms();
    st.done = false;
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
