/* greenlet_switch.c - two coroutines switch to each other explicitly,
 * handing over values, as greenlets do.
 *
 * Python:
 *     from greenlet import greenlet
 *     def eat(name):
 *         print('%s eat 1' % name)
 *         g2.switch('egon')
 *         print('%s eat 2' % name)
 *         g2.switch()
 *     def play(name):
 *         print('%s play 1' % name)
 *         g1.switch()
 *         print('%s play 2' % name)
 *     g1 = greenlet(eat)
 *     g2 = greenlet(play)
 *     g1.switch('egon')
 *
 * weft_co_switch(to, value, &received) runs `to` at once, out of the
 * scheduler's turn. One difference from greenlet: a coroutine that has
 * not started yet just starts when switched to, and the value is lost -
 * a value reaches only a coroutine waiting in a weft_co_switch of its
 * own. So eat gets its name as the spawn argument (what g1.switch('egon')
 * does for a fresh greenlet), and play, which must receive its name from
 * eat's switch, is started first and waits in a switch back to main.
 * Another: when play returns, nobody is its "parent"; the scheduler goes
 * on with whoever is queued (main, then eat, whose pending switch returns
 * with 0), where greenlet would go back to the parent and never finish
 * eat.
 *
 * Run: ./build/examples/greenlet_switch
 * Expect the numbered steps in order, among them "egon eat 1",
 * "egon play 1", "egon eat 2", "egon play 2" - the greenlet output.
 */
#include <stdint.h>
#include <stdio.h>

#include <weft/co.h>

static weft_co *g_main, *g1, *g2;
static int step;

/* One numbered line per step, to show the order. */
#define SAY(fmt, ...) printf("step %d: " fmt "\n", ++step, __VA_ARGS__)

static int eat(void *arg)
{
    const char *name = arg; /* g1.switch('egon') started eat('egon') */
    intptr_t got;

    SAY("%s eat 1", name);
    weft_co_switch(g2, (intptr_t)name, NULL); /* g2.switch('egon') */
    SAY("%s eat 2", name);
    weft_co_switch(g2, 0, &got); /* g2.switch() */
    /* play finished without switching back: the scheduler resumed us. */
    SAY("eat resumed by the scheduler with %ld, returns", (long)got);
    return 0;
}

static int play(void *arg)
{
    intptr_t v;

    (void)arg;
    /* Wait for the name: park in a switch back to main, the only way a
     * coroutine can be handed a value. */
    SAY("%s", "play started, waits for its name");
    weft_co_switch(g_main, 0, &v);
    const char *name = (const char *)v;
    SAY("%s play 1", name);
    weft_co_switch(g1, 0, NULL); /* g1.switch() */
    SAY("%s play 2", name);
    return 0;
}

static int run(void *arg)
{
    weft_co *gs[2];
    int rc;

    (void)arg;
    g_main = weft_co_self();
    rc = weft_co_spawn(&g1, eat, "egon", NULL); /* greenlet(eat) */
    if (rc == 0)
        rc = weft_co_spawn(&g2, play, NULL, NULL); /* greenlet(play) */
    if (rc < 0) {
        fprintf(stderr, "greenlet_switch: weft_co_spawn: %s\n",
                weft_strerror(rc));
        return 1;
    }
    weft_co_switch(g2, 0, NULL); /* start play; it switches back */
    SAY("%s", "main: play waits in its switch; switching to eat");
    weft_co_switch(g1, 0, NULL); /* g1.switch('egon') */
    SAY("%s", "main: resumed; joining both");
    gs[0] = g1;
    gs[1] = g2;
    rc = weft_co_join_all(gs, 2, -1);
    weft_co_release(g1);
    weft_co_release(g2);
    SAY("%s", "main: both finished");
    return rc < 0 ? 1 : 0;
}

int main(void)
{
    int result = 1, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = weft_co_run(run, NULL, NULL, &result);
    if (rc < 0) {
        fprintf(stderr, "greenlet_switch: weft_co_run: %s\n",
                weft_strerror(rc));
        return 1;
    }
    return result;
}
