/* fuzz_pipe.c - the message pipe's frame parser fed arbitrary bytes.
 *
 * A weft pipe end parses what its peer writes: 4-byte lengths, payloads,
 * descriptor markers. A peer process may be buggy or hostile, so the parser
 * must turn any byte stream into messages, WEFT_ECLOSED or -EPROTO - never
 * a crash, a hang or an over-allocation. The input is written raw into one
 * end of a pipe (then that end is closed) and the other end is drained
 * with every receive call and several buffer sizes.
 *
 * Built two ways (fuzz/CMakeLists.txt): with clang's libFuzzer
 * (-DWEFT_FUZZ=ON, `make fuzz`), and as a plain program that replays the
 * committed corpus under fuzz/corpus/pipe, which `make test` runs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/weft.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weft_conn *a, *b;
    char buf[300];
    size_t off = 0;
    void *big;
    int rc, fd, i;

    /* A socket buffer holds far more than the inputs libFuzzer makes. */
    if (size > 100000 || weft_pipe(&a, &b, true) < 0)
        return 0;
    while (off < size) {
        ssize_t n = write(weft_conn_fileno(b), data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    weft_conn_destroy(b); /* end of file after the input */
    for (i = 0; i < 1000; i++) {
        switch (i % 4) {
        case 0:
            rc = weft_conn_recv(a, buf, sizeof buf, 0);
            break;
        case 1:
            rc = weft_conn_recv_alloc(a, &big, 0);
            if (rc >= 0)
                free(big);
            break;
        case 2:
            rc = weft_conn_recv_fd(a, &fd, 0);
            if (rc >= 0)
                close(fd);
            break;
        default:
            rc = weft_conn_next_len(a, 0);
            break;
        }
        /* The end of the stream, or a stream that is not weft messages:
         * nothing more will come. */
        if (rc == WEFT_ECLOSED || rc == -EPROTO || rc == -EAGAIN)
            break;
    }
    weft_conn_destroy(a);
    return 0;
}

#ifndef WEFT_LIBFUZZER
/* Replay: run every file named on the command line through the target. */
#include <stdio.h>

int main(int argc, char **argv)
{
    static uint8_t data[100000];
    int i, n = 0;

    for (i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        size_t len;
        if (!f) {
            fprintf(stderr, "fuzz_pipe: cannot open %s\n", argv[i]);
            return 1;
        }
        len = fread(data, 1, sizeof data, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, len);
        n++;
    }
    printf("fuzz_pipe: replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
#endif
