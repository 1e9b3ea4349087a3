/* fuzz_frame.c - the framed-message parser fed arbitrary bytes.
 *
 * Every weftd connection starts by parsing a frame a stranger wrote: a
 * 4-byte length, a JSON header, a file_size. Any byte string must give a
 * frame, "need more", or one of WEFT_EHDRLEN / WEFT_EHDRJSON /
 * WEFT_EBODYSIZE - never a crash, a read past the input, or an allocation
 * the length did not earn. The input is parsed as a stream of frames
 * (each frame's body skipped), with the default limits and with small
 * ones, and once more through a socket with weft_frame_recv.
 *
 * Built two ways (fuzz/CMakeLists.txt): with clang's libFuzzer
 * (-DWEFT_FUZZ=ON, `make fuzz`), and as a plain program that replays the
 * committed corpus under fuzz/corpus/frame, which `make test` runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/weft.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_stream(const uint8_t *data, size_t size,
                         const weft_frame_limits *lim)
{
    size_t off = 0;
    while (off < size) {
        json_t *h = NULL;
        uint64_t body = 0;
        int n = weft_frame_parse(data + off, size - off, lim, &h, &body);
        if (n <= 0)
            return; /* need more, or refused: both end the stream */
        if (!json_is_object(h) || (size_t)n > size - off)
            abort();
        json_decref(h);
        off += (size_t)n;
        if (body > size - off)
            return;
        off += (size_t)body;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weft_frame_limits small = {.max_header = 64, .max_body = 100};
    parse_stream(data, size, NULL);
    parse_stream(data, size, &small);

    /* The same bytes from a peer that then closes. */
    int sv[2];
    if (size > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(sv[0], data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(sv[0]);
    for (;;) {
        json_t *h = NULL;
        uint64_t body = 0;
        if (weft_frame_recv(sv[1], &small, &h, &body, 1000) < 0)
            break;
        json_decref(h);
        char buf[100];
        if (weft_frame_recv_body(sv[1], buf, (size_t)body, 1000) < 0)
            break;
    }
    close(sv[1]);
    return 0;
}

#ifndef WEFT_LIBFUZZER
#include <stdio.h>

/* Replay: each argument is one input file (as fuzz_pipe does). */
int main(int argc, char **argv)
{
    static uint8_t data[100000];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "fuzz_frame: cannot open %s\n", argv[i]);
            return 1;
        }
        size_t len = fread(data, 1, sizeof data, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, len);
        n++;
    }
    printf("fuzz_frame: replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
#endif
