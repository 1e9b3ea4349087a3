/* process_basics.c - the two ways to define a process, start vs run, and
 * why you start them all before you join any.
 *
 * Python's multiprocessing offers Process(target=f, args=...) and a
 * subclass that overrides run(). In C the first is a function and its
 * argument; the second is a struct of your own that holds the weft handle
 * next to its state and its own run function.
 *
 * Three children sleep 100, 200 and 300 ms. Started all at once and then
 * joined, they finish in about 300 ms; joined right after each start (one
 * at a time), about 600 ms.
 *
 * Run: ./build/examples/process_basics
 */
#include <stdio.h>
#include <unistd.h>

#include <weft/weft.h>

/* Way 1: a target function and its argument. */
static int nap(void *arg)
{
    int ms = (int)(long)arg;

    weft_sleep_ms(ms);
    printf("  %-10s pid %d slept %d ms\n", weft_current_name(), getpid(), ms);
    return 0;
}

/* Way 2: a "class" - the process handle embedded with its own state and
 * its own run function, like subclassing Process and overriding run(). */
struct greeter {
    weft_process *proc; /* the embedded process */
    const char *greeting;
    int times;
};

static int greeter_run(void *self)
{
    struct greeter *g = self;
    int i;

    for (i = 0; i < g->times; i++)
        printf("  %s says %s (pid %d)\n", weft_current_name(), g->greeting,
               getpid());
    return 0;
}

static int greeter_init(struct greeter *g, const char *greeting, int times)
{
    weft_process_opts o = {.name = "Greeter"};

    g->greeting = greeting;
    g->times = times;
    return weft_process_create(&g->proc, greeter_run, g, &o);
}

static int64_t three_naps(int join_each)
{
    weft_process *p[3];
    int64_t t0 = weft_now_ms();
    int i;

    for (i = 0; i < 3; i++) {
        weft_process_create(&p[i], nap, (void *)(long)(100 * (i + 1)), NULL);
        weft_process_start(p[i]);
        if (join_each)
            weft_process_join(p[i], -1);
    }
    for (i = 0; i < 3; i++) {
        weft_process_join(p[i], -1);
        weft_process_destroy(p[i]);
    }
    return weft_now_ms() - t0;
}

int main(void)
{
    struct greeter g;
    int64_t together, one_by_one;
    int code;

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep lines in order across processes */
    printf("%s is pid %d\n", weft_current_name(), getpid());

    printf("start(): the greeter runs in a child process\n");
    if (greeter_init(&g, "hello", 2) < 0)
        return 1;
    weft_process_start(g.proc);
    weft_process_join(g.proc, -1);
    weft_process_exitcode(g.proc, &code);
    printf("  exit code %d\n", code);
    printf("run(): the same function in this process\n");
    weft_process_run(g.proc);
    weft_process_destroy(g.proc);

    printf("start all three, then join them:\n");
    together = three_naps(0);
    printf("start and join each in turn:\n");
    one_by_one = three_naps(1);
    printf("all started, then joined: %lld ms (about 300)\n",
           (long long)together);
    printf("joined one by one:        %lld ms (about 600)\n",
           (long long)one_by_one);
    return 0;
}
