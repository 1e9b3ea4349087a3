/* wait_for_server.c - "wait for the server to come up" with an Event.
 *
 * Python:
 *     event = threading.Event()
 *     def check_server():            # the server starts up, then says so
 *         time.sleep(...); event.set()
 *     def connect():
 *         for attempt in range(1, 5):
 *             if event.wait(0.3): break
 *             print("attempt", attempt, "- server not up yet")
 *         else:
 *             raise TimeoutError("connect timeout")
 *         print("connected")
 *
 * A server thread takes its time to start (--startup-ms), then listens on
 * 127.0.0.1 (a port the kernel picks) and sets the event. Three client
 * threads wait for the event, each wait bounded (--wait-ms), a few times
 * (--attempts); once it is set they connect for real and read the
 * server's greeting. If the server is not up after the last attempt they
 * give up instead of hanging, as a client should. weft_event_wait is
 * Event.wait: 0 when set, -ETIMEDOUT when the time is up.
 *
 * Run: ./build/examples/wait_for_server [--startup-ms MS] [--wait-ms MS]
 *      [--attempts N]
 * Expect: "attempt 1: server not up yet" lines, "server: up on
 * 127.0.0.1:PORT", each client "connected, server says: welcome, visitor
 * N", then "3 of 3 clients connected". With --startup-ms 1500 --attempts
 * 2: each client "gave up: connect timeout", "0 of 3 clients connected".
 */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

#define CLIENTS 3

static int startup_ms = 700, wait_ms = 300, attempts = 4;
static weft_event *up;
static weft_addr server_addr; /* written before up is set */
static atomic_bool stop;
static atomic_int connected;

static int server(void *arg)
{
    char text[WEFT_ADDR_TEXT_MAX], line[64];
    weft_addr any;
    int lfd, visitors = 0;

    (void)arg;
    printf("server: starting up (%d ms)...\n", startup_ms);
    weft_sleep_ms(startup_ms);
    if (weft_addr_parse(&any, "127.0.0.1:0") < 0)
        return 1;
    lfd = weft_listen(&any, 0);
    if (lfd < 0 || weft_addr_local(lfd, &server_addr) < 0) {
        fprintf(stderr, "wait_for_server: listen: %s\n", weft_strerror(lfd));
        return 1;
    }
    weft_addr_format(&server_addr, text, sizeof text);
    printf("server: up on %s\n", text);
    weft_event_set(up); /* event.set(): the waiting clients go */
    while (!atomic_load(&stop)) {
        int fd = weft_accept(lfd, NULL, 100);
        int n;

        if (fd < 0)
            continue; /* -ETIMEDOUT: look at stop again */
        n = snprintf(line, sizeof line, "welcome, visitor %d\n", ++visitors);
        weft_write_all(fd, line, (size_t)n, NULL, 1000);
        close(fd);
    }
    close(lfd);
    return 0;
}

static int client(void *arg)
{
    int id = (int)(long)arg, attempt, fd, rc;
    char line[64];
    size_t got = 0;

    for (attempt = 1;; attempt++) {
        if (weft_event_wait(up, wait_ms) == 0)
            break;
        printf("client %d: attempt %d: server not up yet\n", id, attempt);
        if (attempt == attempts) {
            printf("client %d: gave up: connect timeout\n", id);
            return 1;
        }
    }
    fd = weft_connect(&server_addr, 1000);
    if (fd < 0) {
        printf("client %d: connect: %s\n", id, weft_strerror(fd));
        return 1;
    }
    /* Read the greeting line. */
    while (got < sizeof line - 1) {
        rc = weft_read_exact(fd, line + got, 1, NULL, 1000);
        if (rc < 0 || line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(fd);
    printf("client %d: connected, server says: %s\n", id, line);
    atomic_fetch_add(&connected, 1);
    return 0;
}

static int number(const char *opt, const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "wait_for_server: %s wants %d..%d, got '%s'\n", opt, lo,
                hi, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"startup-ms", required_argument, NULL, 's'},
        {"wait-ms", required_argument, NULL, 'w'},
        {"attempts", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    weft_thread *srv, *cl[CLIENTS];
    int c, i, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            startup_ms = number("--startup-ms", optarg, 0, 10000);
            break;
        case 'w':
            wait_ms = number("--wait-ms", optarg, 1, 10000);
            break;
        case 'a':
            attempts = number("--attempts", optarg, 1, 100);
            break;
        default:
            fprintf(stderr, "usage: wait_for_server [--startup-ms MS] "
                            "[--wait-ms MS] [--attempts N]\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wait_for_server: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = weft_event_create(&up, NULL);
    if (rc == 0)
        rc = weft_thread_create(&srv, server, NULL, NULL);
    if (rc == 0)
        rc = weft_thread_start(srv);
    for (i = 0; rc == 0 && i < CLIENTS; i++) {
        rc = weft_thread_create(&cl[i], client, (void *)(long)(i + 1), NULL);
        if (rc == 0)
            rc = weft_thread_start(cl[i]);
    }
    if (rc < 0) {
        fprintf(stderr, "wait_for_server: %s\n", weft_strerror(rc));
        return 1;
    }
    for (i = 0; i < CLIENTS; i++) {
        weft_thread_join(cl[i], -1);
        weft_thread_destroy(cl[i]);
    }
    atomic_store(&stop, true);
    weft_thread_join(srv, -1);
    weft_thread_destroy(srv);
    weft_event_destroy(up);
    printf("%d of %d clients connected\n", atomic_load(&connected), CLIENTS);
    return 0;
}
