/* isolation.c - each process has its own memory.
 *
 * A child changes a global and appends to a list; the parent, after
 * joining, still sees the old values. (Threads would see each other's
 * changes: see threads_basics.) To share data between processes, use a
 * queue, a pipe or shared memory.
 *
 * Run: ./build/examples/isolation
 */
#include <stdio.h>

#include <weft/weft.h>

static int counter = 0;
static int items[8];
static int nitems = 0;

static int change_globals(void *arg)
{
    (void)arg;
    counter = 100;
    items[nitems++] = 1;
    items[nitems++] = 2;
    printf("child : counter = %d, items = %d\n", counter, nitems);
    return 0;
}

int main(void)
{
    weft_process *p;

    if (weft_process_create(&p, change_globals, NULL, NULL) < 0)
        return 1;
    weft_process_start(p);
    weft_process_join(p, -1);
    weft_process_destroy(p);
    printf("parent: counter = %d, items = %d  (unchanged)\n", counter, nitems);
    return counter == 0 && nitems == 0 ? 0 : 1;
}
