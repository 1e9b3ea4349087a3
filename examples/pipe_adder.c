/* pipe_adder.c - a child that adds numbers sent over a duplex pipe.
 *
 * The parent sends pairs of numbers through one end of a weft_pipe; the
 * child, holding the other end, sends back each sum. When the parent has
 * sent its last pair it closes its end: the child's next recv gets end of
 * file (WEFT_ECLOSED) and it exits - no "stop" message needed.
 *
 * Run: ./build/examples/pipe_adder
 */
#include <stdio.h>

#include <weft/weft.h>

static weft_conn *mine, *theirs;

static int adder(void *arg)
{
    long pair[2], sum;
    int n;

    (void)arg;
    weft_conn_destroy(mine); /* the parent's end: not ours */
    while ((n = weft_conn_recv(theirs, pair, sizeof pair, -1)) == sizeof pair) {
        sum = pair[0] + pair[1];
        if (weft_conn_send(theirs, &sum, sizeof sum) < 0)
            return 1;
    }
    printf("adder: end of file, exiting\n");
    return n == WEFT_ECLOSED ? 0 : 1;
}

int main(void)
{
    static const long pairs[][2] = {{1, 2}, {40, 2}, {1000, -1}, {7, 7}};
    weft_process *child;
    long sum;
    size_t i;
    int code;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (weft_pipe(&mine, &theirs, true) < 0 ||
        weft_process_create(&child, adder, NULL, NULL) < 0 ||
        weft_process_start(child) < 0)
        return 1;
    weft_conn_destroy(theirs); /* the child's end: not ours */
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        weft_conn_send(mine, pairs[i], sizeof pairs[i]);
        if (weft_conn_recv(mine, &sum, sizeof sum, 5000) != sizeof sum)
            return 1;
        printf("%ld + %ld = %ld\n", pairs[i][0], pairs[i][1], sum);
    }
    weft_conn_destroy(mine); /* the child sees end of file */
    weft_process_join(child, -1);
    weft_process_exitcode(child, &code);
    printf("adder exited with %d\n", code);
    weft_process_destroy(child);
    return code;
}
