/* test_server.c - the server framework in each of its six models, driven
 * over real loopback sockets.
 *
 * Each server runs in a child process of the test (so fork and prefork
 * children, signals and descriptors stay out of the test's way). The
 * child creates the server, tells its port through a pipe, serves until
 * SIGTERM, and then checks itself: weft_server_run returned 0, the
 * descriptors it holds are the ones it held before the server existed,
 * and it has no child process left, not even a zombie. Its exit status
 * says which check failed.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

enum {
    EXIT_RUN_FAILED = 10,
    EXIT_FD_LEAK = 11,
    EXIT_CHILD_LEAK = 12,
    EXIT_CREATE_FAILED = 13
};

/* ---- handlers ------------------------------------------------------------ */

/* The course's upper-case echo. "crash" aborts the handler; "slow" waits
 * 300 ms before answering; "hang" reads without the idle wait, so only
 * the forced shutdown ends it. */
static void upper_echo(weft_request *r, void *arg)
{
    char buf[8192]; /* coroutine stacks are 64 KiB by default */
    ssize_t n;

    (void)arg;
    while ((n = weft_request_recv(r, buf, sizeof buf)) > 0) {
        if (n >= 5 && memcmp(buf, "crash", 5) == 0)
            abort();
        if (n >= 4 && memcmp(buf, "slow", 4) == 0)
            usleep(300 * 1000);
        if (n >= 4 && memcmp(buf, "hang", 4) == 0) {
            while (weft_request_read(r, buf, sizeof buf) > 0)
                ;
            return;
        }
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (weft_request_write_all(r, buf, (size_t)n) < 0)
            return;
    }
}

/* Frames: answers each request frame with {"ok":true,"n":body length},
 * and a malformed one with {"error": code} before closing. */
static void frame_echo(weft_request *r, void *arg)
{
    weft_frame_limits lim = {.max_header = 1024, .max_body = 1 << 20};
    char *body = malloc(1 << 20); /* per connection: handlers run at once */

    (void)arg;
    while (body && weft_request_wait(r) == 0) {
        json_t *h = NULL, *reply;
        uint64_t len = 0;
        int rc = weft_frame_recv(weft_request_fd(r), &lim, &h, &len,
                                 weft_request_io_timeout(r));
        if (rc == 0)
            rc = weft_frame_recv_body(weft_request_fd(r), body, (size_t)len,
                                      weft_request_io_timeout(r));
        json_decref(h);
        if (rc == WEFT_ECLOSED)
            break;
        reply = rc == 0 ? json_pack("{s:b, s:I}", "ok", 1, "n", (json_int_t)len)
                        : json_pack("{s:i}", "error", rc);
        weft_frame_send(weft_request_fd(r), reply, NULL, 0,
                        weft_request_io_timeout(r));
        json_decref(reply);
        if (rc < 0)
            break;
    }
    free(body);
}

/* weft_request_wait_fd: waits on a descriptor of the handler's own (a
 * pipe here; weftd's TLS layer in real life), not the client's socket.
 * Answers "timeout" when the idle timeout passes on the silent pipe
 * although the client has sent a byte, "ready" when the pipe has
 * input, "shutdown" when the server stops during a wait. */
static void wait_elsewhere(weft_request *r, void *arg)
{
    int p[2], rc;
    char c = 'x';
    const char *say;

    (void)arg;
    if (weft_request_wait(r) < 0 || pipe(p) < 0)
        return;
    rc = weft_request_wait_fd(r, p[0]); /* nothing ever comes */
    say = rc == -ETIMEDOUT ? "timeout " : rc == -ESHUTDOWN ? "shutdown " : "?";
    if (weft_request_write_all(r, say, strlen(say)) == 0 && rc == -ETIMEDOUT &&
        write(p[1], &c, 1) == 1) {
        rc = weft_request_wait_fd(r, p[0]);
        say = rc == 0 ? "ready" : "?";
        weft_request_write_all(r, say, strlen(say));
    }
    close(p[0]);
    close(p[1]);
}

static void udp_echo(weft_request *r, void *arg)
{
    size_t len;
    const void *d = weft_request_data(r, &len);
    (void)arg;
    weft_request_reply(r, d, len);
}

/* ---- the server child ---------------------------------------------------- */

struct srv {
    pid_t pid;
    weft_addr addr;
};

static int count_fds(void)
{
    char path[64];
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static bool has_children(void)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

static void log_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "[%d %s] %s\n", (int)getpid(), weft_log_level_name(level),
            msg);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static void server_child(weft_server_opts *o, int wfd)
{
    weft_server *s;
    weft_addr a;
    weft_process *warm;
    int before, rc;

    /* A failed assertion in the test must not leave servers behind. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getenv("WEFT_TEST_LOG"))
        weft_log_set(log_stderr, NULL, WEFT_LOG_DEBUG);

    /* weft keeps a few process-wide descriptors once used (the reaper's
     * epoll): create them before counting. */
    weft_process_create(&warm, nothing, NULL, NULL);
    weft_process_start(warm);
    weft_process_join(warm, -1);
    weft_process_destroy(warm);
    before = count_fds();
    rc = weft_server_create(&s, o);
    if (rc < 0)
        _exit(EXIT_CREATE_FAILED);
    weft_server_addr(s, 0, &a);
    if (write(wfd, &a, sizeof a) != sizeof a)
        _exit(EXIT_CREATE_FAILED);
    close(wfd);
    before--; /* wfd */
    rc = weft_server_run(s);
    weft_server_destroy(s);
    if (rc != 0)
        _exit(EXIT_RUN_FAILED);
    if (has_children())
        _exit(EXIT_CHILD_LEAK);
    if (count_fds() != before) {
        fprintf(stderr, "fds: %d before, %d after\n", before, count_fds());
        _exit(EXIT_FD_LEAK);
    }
    _exit(0);
}

static struct srv start(weft_server_opts o)
{
    static const char *loop4[] = {"127.0.0.1:0"};
    struct srv v;
    int p[2];

    if (!o.listen) {
        o.listen = loop4;
        o.n_listen = 1;
    }
    assert_int_equal(pipe(p), 0);
    v.pid = fork();
    assert_true(v.pid >= 0);
    if (v.pid == 0) {
        close(p[0]);
        server_child(&o, p[1]);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &v.addr, sizeof v.addr), sizeof v.addr);
    close(p[0]);
    return v;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* SIGTERM the server and wait for it: its exit status. */
static int stop(struct srv *v)
{
    int status;
    kill(v->pid, SIGTERM);
    assert_int_equal(waitpid(v->pid, &status, 0), v->pid);
    if (!WIFEXITED(status)) {
        fprintf(stderr, "server killed by signal %d\n", WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

static int dial(const struct srv *v)
{
    int fd = weft_connect(&v->addr, 2000);
    assert_true(fd >= 0);
    return fd;
}

/* One round trip of text, expecting it upper-cased. */
static void round_trip(int fd, const char *text)
{
    size_t n = strlen(text);
    char got[256], want[256];

    assert_int_equal(weft_write_all(fd, text, n, NULL, 5000), 0);
    assert_int_equal(weft_read_exact(fd, got, n, NULL, 5000), 0);
    for (size_t i = 0; i < n; i++)
        want[i] = (char)toupper((unsigned char)text[i]);
    assert_memory_equal(got, want, n);
}

/* ---- 200 concurrent clients per model ------------------------------------ */

struct crowd {
    const struct srv *v;
    int ok;
};

static struct crowd crowd;

static int client_co(void *arg)
{
    int id = (int)(intptr_t)arg, fd;
    char text[64], got[64];

    fd = weft_connect(&crowd.v->addr, 5000);
    if (fd < 0)
        return fd;
    for (int k = 0; k < 5; k++) {
        size_t n =
            (size_t)snprintf(text, sizeof text, "client %d round %d", id, k);
        if (weft_write_all(fd, text, n, NULL, 10000) < 0 ||
            weft_read_exact(fd, got, n, NULL, 10000) < 0)
            break;
        for (size_t i = 0; i < n; i++)
            text[i] = (char)toupper((unsigned char)text[i]);
        if (memcmp(got, text, n) != 0)
            break;
        if (k == 4)
            crowd.ok++;
    }
    close(fd);
    return 0;
}

static int crowd_main(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < 200; i++)
        weft_co_spawn(NULL, client_co, (void *)i, NULL);
    return 0;
}

static void serve_200(weft_server_model m)
{
    weft_server_opts o = {.model = m, .handler = upper_echo, .workers = 4};
    struct srv v = start(o);

    crowd.v = &v;
    crowd.ok = 0;
    assert_int_equal(weft_co_run(crowd_main, NULL, NULL, NULL), 0);
    if (crowd.ok != 200)
        fprintf(stderr, "%s: %d of 200 clients served\n",
                weft_server_model_name(m), crowd.ok);
    assert_int_equal(crowd.ok, 200);
    assert_int_equal(stop(&v), 0);
}

static void test_200_clients(void **state)
{
    (void)state;
    for (int m = 0; m < WEFT_MODEL_COUNT; m++)
        serve_200((weft_server_model)m);
}

/* ---- partial writes, slow readers ---------------------------------------- */

static void test_slow_reader(void **state)
{
    (void)state;
    for (int m = 0; m < WEFT_MODEL_COUNT; m++) {
        weft_server_opts o = {
            .model = (weft_server_model)m, .handler = upper_echo, .workers = 2};
        struct srv v = start(o);
        size_t n = 4 << 20, got = 0;
        char *out = malloc(n), *in = malloc(n);
        int fd = dial(&v);
        pid_t writer;

        for (size_t i = 0; i < n; i++)
            out[i] = (char)('a' + i % 26);
        /* A writer process pushes 4 MiB at once while this reader takes
         * it slowly: the server's writes fill the socket and wait. */
        writer = fork();
        if (writer == 0)
            _exit(weft_write_all(fd, out, n, NULL, 20000) == 0 ? 0 : 1);
        usleep(200 * 1000);
        while (got < n) {
            /* weft_co_read, not read: the writer's weft_write_all made
             * the shared file description non-blocking, so a plain read
             * can fail with EAGAIN when the echo lags (it did under load
             * in CI). */
            ssize_t k = weft_co_read(fd, in + got,
                                     n - got < 4096 ? n - got : 4096, 20000);
            assert_true(k > 0);
            got += (size_t)k;
        }
        for (size_t i = 0; i < n; i++)
            assert_true(in[i] == (char)('A' + i % 26));
        int status;
        waitpid(writer, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(fd);
        free(out);
        free(in);
        assert_int_equal(stop(&v), 0);
    }
}

/* ---- frames: a client gone mid-frame, garbage, limits -------------------- */

static json_t *frame_call(int fd, const void *raw, size_t len)
{
    json_t *h = NULL;
    uint64_t blen = 0;
    assert_int_equal(weft_write_all(fd, raw, len, NULL, 5000), 0);
    assert_int_equal(weft_frame_recv(fd, NULL, &h, &blen, 5000), 0);
    return h;
}

static void test_frames(void **state)
{
    static const weft_server_model models[] = {
        WEFT_MODEL_THREAD, WEFT_MODEL_PREFORK, WEFT_MODEL_COROUTINE};
    (void)state;
    for (size_t m = 0; m < 3; m++) {
        weft_server_opts o = {.model = models[m],
                              .handler = frame_echo,
                              .workers = 2,
                              .io_timeout_ms = 500};
        struct srv v = start(o);
        unsigned char good[] = "\x0f\x00\x00\x00{\"file_size\":3}abc";
        unsigned char half[] = "\x0f\x00\x00\x00{\"file_size\":3}a";
        unsigned char big[] = "\x00\x00\x10\x00{}"; /* 1 MiB header */
        unsigned char junk[] = "\x05\x00\x00\x00[1,2]";
        json_t *h;
        int fd;

        /* A good frame, twice on one connection. */
        fd = dial(&v);
        for (int k = 0; k < 2; k++) {
            h = frame_call(fd, good, sizeof good - 1);
            assert_int_equal(json_integer_value(json_object_get(h, "n")), 3);
            json_decref(h);
        }
        close(fd);
        /* A frame that arrives a byte at a time is still one frame. */
        fd = dial(&v);
        for (size_t i = 0; i + 1 < sizeof good; i++) {
            assert_int_equal(weft_write_all(fd, good + i, 1, NULL, 1000), 0);
            usleep(1000);
        }
        h = frame_call(fd, "", 0);
        assert_int_equal(json_integer_value(json_object_get(h, "n")), 3);
        json_decref(h);
        close(fd);
        /* Gone mid-frame: header sent, part of the body, then closed. */
        fd = dial(&v);
        assert_int_equal(weft_write_all(fd, half, sizeof half - 1, NULL, 0), 0);
        close(fd);
        /* Stalled mid-frame: the I/O timeout ends it. */
        fd = dial(&v);
        h = frame_call(fd, half, sizeof half - 1);
        assert_int_equal(json_integer_value(json_object_get(h, "error")),
                         -ETIMEDOUT);
        json_decref(h);
        close(fd);
        /* Over the header limit, and a header that is not an object. */
        fd = dial(&v);
        h = frame_call(fd, big, sizeof big - 1);
        assert_int_equal(json_integer_value(json_object_get(h, "error")),
                         WEFT_EHDRLEN);
        json_decref(h);
        close(fd);
        fd = dial(&v);
        h = frame_call(fd, junk, sizeof junk - 1);
        assert_int_equal(json_integer_value(json_object_get(h, "error")),
                         WEFT_EHDRJSON);
        json_decref(h);
        close(fd);
        /* And the server still serves. */
        fd = dial(&v);
        h = frame_call(fd, good, sizeof good - 1);
        assert_true(json_is_true(json_object_get(h, "ok")));
        json_decref(h);
        close(fd);
        assert_int_equal(stop(&v), 0);
    }
}

/* ---- max connections ----------------------------------------------------- */

static void test_max_conns(void **state)
{
    (void)state;
    for (int m = 1; m < WEFT_MODEL_COUNT; m++) { /* serial has none */
        weft_server_opts o = {.model = (weft_server_model)m,
                              .handler = upper_echo,
                              .workers = 2,
                              .max_conns = 2};
        struct srv v = start(o);
        int a = dial(&v), b = dial(&v), c;
        char buf[128];
        ssize_t n;
        int64_t t0;

        round_trip(a, "one");
        round_trip(b, "two");
        t0 = now_ms();
        c = dial(&v);
        n = weft_co_read(c, buf, sizeof buf - 1, 5000);
        assert_true(n > 0);
        buf[n] = 0;
        assert_non_null(strstr(buf, "too many connections"));
        assert_int_equal(weft_co_read(c, buf, sizeof buf, 5000), 0);
        assert_true(now_ms() - t0 < 3000);
        close(c);
        /* A slot frees when a client leaves. */
        close(a);
        for (int tries = 0;; tries++) {
            c = dial(&v);
            assert_int_equal(weft_write_all(c, "x", 1, NULL, 1000), 0);
            n = weft_co_read(c, buf, sizeof buf, 5000);
            if (n == 1 && buf[0] == 'X')
                break;
            close(c);
            assert_true(tries < 50);
            usleep(20 * 1000);
        }
        close(c);
        close(b);
        assert_int_equal(stop(&v), 0);
    }
}

/* ---- graceful shutdown --------------------------------------------------- */

static void test_graceful(void **state)
{
    (void)state;
    for (int m = 0; m < WEFT_MODEL_COUNT; m++) {
        weft_server_opts o = {.model = (weft_server_model)m,
                              .handler = upper_echo,
                              .workers = 2,
                              .grace_ms = 3000};
        struct srv v = start(o);
        int busy = dial(&v), idle = -1, status;
        char buf[16];
        int64_t t0;

        if (m != WEFT_MODEL_SERIAL) {
            idle = dial(&v);
            round_trip(idle, "idle");
        }
        /* A request in flight when SIGTERM comes is answered. */
        assert_int_equal(weft_write_all(busy, "slow", 4, NULL, 1000), 0);
        usleep(100 * 1000);
        t0 = now_ms();
        kill(v.pid, SIGTERM);
        assert_int_equal(weft_read_exact(busy, buf, 4, NULL, 5000), 0);
        assert_memory_equal(buf, "SLOW", 4);
        /* Then its next wait ends: the connection closes. */
        assert_int_equal(weft_co_read(busy, buf, sizeof buf, 5000), 0);
        if (idle >= 0) {
            assert_int_equal(weft_co_read(idle, buf, sizeof buf, 5000), 0);
            close(idle);
        }
        close(busy);
        /* No new connections once stopping. */
        assert_true(weft_connect(&v.addr, 1000) < 0 ||
                    waitpid(v.pid, &status, WNOHANG) >= 0);
        assert_int_equal(waitpid(v.pid, &status, 0), v.pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(now_ms() - t0 < 2500); /* well within the grace */
    }
}

/* A handler that ignores the stop is cut off when the grace runs out. */
static void test_grace_expires(void **state)
{
    (void)state;
    for (int m = 0; m < WEFT_MODEL_COUNT; m++) {
        weft_server_opts o = {.model = (weft_server_model)m,
                              .handler = upper_echo,
                              .workers = 2,
                              .grace_ms = 200,
                              .io_timeout_ms = -1};
        struct srv v = start(o);
        int fd = dial(&v), rc;
        char buf[16];
        int64_t t0;

        assert_int_equal(weft_write_all(fd, "hang", 4, NULL, 1000), 0);
        usleep(100 * 1000);
        t0 = now_ms();
        rc = stop(&v);
        assert_int_equal(rc, 0);
        assert_true(now_ms() - t0 < 3000);
        assert_true(weft_co_read(fd, buf, sizeof buf, 1000) <= 0);
        close(fd);
    }
}

/* ---- a handler that crashes ---------------------------------------------- */

static void test_handler_crash(void **state)
{
    static const weft_server_model models[] = {WEFT_MODEL_FORK,
                                               WEFT_MODEL_PREFORK};
    (void)state;
    for (size_t m = 0; m < 2; m++) {
        weft_server_opts o = {
            .model = models[m], .handler = upper_echo, .workers = 1};
        struct srv v = start(o);
        char buf[16];

        for (int k = 0; k < 3; k++) {
            int fd = dial(&v);
            assert_int_equal(weft_write_all(fd, "crash", 5, NULL, 1000), 0);
            assert_true(weft_co_read(fd, buf, sizeof buf, 5000) <= 0);
            close(fd);
            /* The one prefork worker was replaced: the next client is
             * served. */
            fd = dial(&v);
            round_trip(fd, "after a crash");
            close(fd);
        }
        assert_int_equal(stop(&v), 0);
    }
}

/* ---- idle clients -------------------------------------------------------- */

static void test_idle_timeout(void **state)
{
    (void)state;
    for (int m = 0; m < WEFT_MODEL_COUNT; m++) {
        weft_server_opts o = {.model = (weft_server_model)m,
                              .handler = upper_echo,
                              .workers = 2,
                              .idle_timeout_ms = 200};
        struct srv v = start(o);
        int fd = dial(&v);
        char buf[8];
        int64_t t0 = now_ms();

        /* Connects and never speaks: dropped after the idle timeout. */
        assert_int_equal(weft_co_read(fd, buf, sizeof buf, 5000), 0);
        assert_true(now_ms() - t0 < 3000);
        close(fd);
        fd = dial(&v);
        round_trip(fd, "still serving");
        close(fd);
        assert_int_equal(stop(&v), 0);
    }
}

/* weft_request_wait_fd, in every model: the idle timeout and the stop
 * apply to the handler's own descriptor. */
static void test_wait_fd(void **state)
{
    (void)state;
    assert_int_equal(weft_request_wait_fd(NULL, 0), -EINVAL);
    for (int m = 0; m < WEFT_MODEL_COUNT; m++) {
        weft_server_opts o = {.model = (weft_server_model)m,
                              .handler = wait_elsewhere,
                              .workers = 2,
                              .idle_timeout_ms = 200};
        struct srv v = start(o);
        int fd = dial(&v);
        char buf[64] = {0};
        int64_t t0 = now_ms();

        assert_int_equal(weft_write_all(fd, "x", 1, NULL, 1000), 0);
        assert_int_equal(weft_read_exact(fd, buf, 13, NULL, 5000), 0);
        assert_string_equal(buf, "timeout ready");
        assert_true(now_ms() - t0 >= 150);
        close(fd);
        assert_int_equal(stop(&v), 0);

        /* A long idle timeout: the stop ends the wait at once. */
        o.idle_timeout_ms = 60000;
        v = start(o);
        fd = dial(&v);
        assert_int_equal(weft_write_all(fd, "x", 1, NULL, 1000), 0);
        usleep(100 * 1000); /* the handler is waiting on its pipe */
        t0 = now_ms();
        assert_int_equal(stop(&v), 0);
        assert_true(now_ms() - t0 < 5000);
        memset(buf, 0, sizeof buf);
        assert_int_equal(weft_read_exact(fd, buf, 9, NULL, 5000), 0);
        assert_string_equal(buf, "shutdown ");
        close(fd);
    }
}

/* ---- UDP ----------------------------------------------------------------- */

static void test_udp(void **state)
{
    static const size_t sizes[] = {1, 1000, 60000, 0, 17};
    static char out[60000], in[65536];
    (void)state;
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (char)(i * 7);
    for (int m = 0; m < WEFT_MODEL_COUNT; m++) {
        weft_server_opts o = {.model = (weft_server_model)m,
                              .kind = WEFT_SERVER_DGRAM,
                              .handler = udp_echo,
                              .workers = 2};
        struct srv v = start(o);
        int fd = weft_udp_socket(&v.addr);
        assert_true(fd >= 0);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            ssize_t n;
            assert_int_equal(weft_udp_sendto(fd, out, sizes[k], &v.addr, 1000),
                             (ssize_t)sizes[k]);
            n = weft_udp_recvfrom(fd, in, sizeof in, NULL, 5000);
            assert_int_equal(n, (ssize_t)sizes[k]);
            assert_memory_equal(in, out, sizes[k]);
        }
        close(fd);
        assert_int_equal(stop(&v), 0);
    }
}

/* SIGTERM the instant the server has its port (between create and run):
 * it is queued by the subscription create made, and run stops at once. */
static void test_stop_at_once(void **state)
{
    (void)state;
    for (int k = 0; k < 20; k++) {
        weft_server_opts o = {.model = (weft_server_model)(k % 6),
                              .handler = upper_echo,
                              .workers = 1};
        struct srv v = start(o);
        assert_int_equal(stop(&v), 0);
    }
}

/* ---- bad input ----------------------------------------------------------- */

static void test_bad_input(void **state)
{
    static const char *bad_addr[] = {"127.0.0.1"};
    static const char *any[] = {"127.0.0.1:0"};
    const char *taken[1];
    char text[WEFT_ADDR_TEXT_MAX];
    weft_server_opts o = {.handler = upper_echo, .listen = any, .n_listen = 1};
    weft_server *s, *s2;
    weft_server_model m;
    weft_addr a;

    (void)state;
    assert_int_equal(weft_server_create(&s, NULL), -EINVAL);
    o.handler = NULL;
    assert_int_equal(weft_server_create(&s, &o), -EINVAL);
    o.handler = upper_echo;
    o.model = (weft_server_model)99;
    assert_int_equal(weft_server_create(&s, &o), -EINVAL);
    o.model = WEFT_MODEL_THREAD;
    o.n_listen = 0;
    assert_int_equal(weft_server_create(&s, &o), -EINVAL);
    o.listen = bad_addr;
    o.n_listen = 1;
    assert_int_equal(weft_server_create(&s, &o), -EINVAL);
    /* A port in use. */
    o.listen = any;
    assert_int_equal(weft_server_create(&s, &o), 0);
    assert_int_equal(weft_server_count(s), 1);
    assert_int_equal(weft_server_addr(s, 1, &a), -ERANGE);
    assert_int_equal(weft_server_addr(s, 0, &a), 0);
    weft_addr_format(&a, text, sizeof text);
    taken[0] = text;
    o.listen = taken;
    assert_int_equal(weft_server_create(&s2, &o), -EADDRINUSE);
    /* Adopting sockets (systemd): a datagram socket is not a listener. */
    {
        weft_addr u;
        int ufd;
        weft_server_opts ao = {.handler = upper_echo};
        assert_int_equal(weft_addr_parse(&u, "127.0.0.1:0"), 0);
        ufd = weft_udp_bind(&u);
        ao.listen_fds = &ufd;
        ao.n_listen_fds = 1;
        assert_int_equal(weft_server_create(&s2, &ao), -EINVAL);
        ao.kind = WEFT_SERVER_DGRAM;
        assert_int_equal(weft_server_create(&s2, &ao), 0);
        weft_server_destroy(s2); /* closes the adopted socket */
    }
    /* Stopped before it ran: run returns at once. */
    weft_server_stop(s);
    assert_int_equal(weft_server_run(s), 0);
    assert_int_equal(weft_server_run(s), WEFT_ESTARTED);
    weft_server_destroy(s);
    weft_server_destroy(NULL);

    for (int i = 0; i < WEFT_MODEL_COUNT; i++) {
        assert_int_equal(weft_server_model_parse(
                             weft_server_model_name((weft_server_model)i), &m),
                         0);
        assert_int_equal(m, i);
    }
    assert_int_equal(weft_server_model_parse("gevent", &m), -EINVAL);
    assert_null(weft_server_model_name((weft_server_model)6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_200_clients),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_max_conns),
        cmocka_unit_test(test_graceful),
        cmocka_unit_test(test_grace_expires),
        cmocka_unit_test(test_handler_crash),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_wait_fd),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_stop_at_once),
    };
    signal(SIGPIPE, SIG_IGN);
    if (getenv("WEFT_TEST_FILTER"))
        cmocka_set_test_filter(getenv("WEFT_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
