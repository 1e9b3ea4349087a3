/* test_command.c - weft_command: starting programs, their exit codes, the
 * three stdio modes, communicate() without pipe deadlocks, timeouts, and
 * the promise that a command's child is never left behind or a zombie. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/command.h>

#define MiB (1024 * 1024)
/* Long enough for any healthy run, short enough that a hang fails fast. */
#define T 5000

static const weft_command_opts pipe_out = {NULL, NULL, WEFT_STDIO_INHERIT,
                                           WEFT_STDIO_PIPE, WEFT_STDIO_INHERIT};
static const weft_command_opts pipe_all = {NULL, NULL, WEFT_STDIO_PIPE,
                                           WEFT_STDIO_PIPE, WEFT_STDIO_PIPE};

/* True if this process has no child at all, zombie or running. WNOWAIT:
 * looking must not reap a child that belongs to weft's registry. */
static int no_children(void)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

/* The state letter of pid in /proc, or 0 if there is no such process. */
static char proc_state(pid_t pid)
{
    char path[64], line[512], *p;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    p = fgets(line, sizeof line, f);
    fclose(f);
    if (!p)
        return 0;
    /* "pid (comm) S ...": comm may hold anything, so look after its end. */
    p = strrchr(line, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

/* The hex mask after "Key:" in /proc/pid/status. */
static unsigned long long proc_mask(pid_t pid, const char *key)
{
    char path[64], line[256];
    unsigned long long v = ~0ULL;
    size_t klen = strlen(key);
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            v = strtoull(line + klen + 1, NULL, 16);
    fclose(f);
    return v;
}

/* ---- Exit codes and start errors --------------------------------------- */

static void test_echo_captured(void **state)
{
    const char *argv[] = {"echo", "hello", NULL};
    weft_buf out = WEFT_BUF_INIT;
    int code = -1;

    (void)state;
    assert_int_equal(
        weft_command_run(argv, &pipe_out, NULL, 0, &out, NULL, T, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(out.len, 6);
    assert_string_equal(out.data, "hello\n");
    weft_buf_free(&out);
}

static void test_exit_code(void **state)
{
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    int code = -1;

    (void)state;
    assert_int_equal(
        weft_command_run(argv, NULL, NULL, 0, NULL, NULL, T, &code), 0);
    assert_int_equal(code, 3);
}

static void test_killed_by_signal(void **state)
{
    const char *sleeper[] = {"sleep", "10", NULL};
    const char *self[] = {"sh", "-c", "kill -9 $$", NULL};
    weft_command *c;
    int code = 0;

    (void)state;
    assert_int_equal(weft_command_start(&c, sleeper, NULL), 0);
    assert_true(weft_command_pid(c) > 0);
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_wait(c, 2000, &code), 0);
    assert_int_equal(code, -9);
    /* Signalling a child that has exited is not an error. */
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_destroy(c), 0);

    assert_int_equal(
        weft_command_run(self, NULL, NULL, 0, NULL, NULL, 2000, &code), 0);
    assert_int_equal(code, -9);
}

static void test_missing_program(void **state)
{
    const char *bare[] = {"weft-no-such-program-4711", NULL};
    const char *path[] = {"/nonexistent/weft-prog", NULL};
    weft_command *c = (weft_command *)&c;

    (void)state;
    assert_true(no_children());
    assert_int_equal(weft_command_start(&c, bare, &pipe_all), -ENOENT);
    assert_null(c);
    assert_int_equal(weft_command_start(&c, path, NULL), -ENOENT);
    assert_null(c);
    /* glibc reaps the child whose exec failed: nothing is left. */
    assert_true(no_children());
}

static void test_not_executable(void **state)
{
    char dir[] = "/tmp/weft-cmd-XXXXXX", file[64];
    const char *argv[] = {file, NULL};
    weft_command *c;
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/data", dir);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(weft_command_start(&c, argv, NULL), -EACCES);
    assert_true(no_children());
    unlink(file);
    rmdir(dir);
}

static void test_bad_cwd(void **state)
{
    const char *argv[] = {"pwd", NULL};
    weft_command_opts o = pipe_out;
    weft_command *c = (weft_command *)&c;

    (void)state;
    o.cwd = "/nonexistent/weft-dir";
    assert_int_equal(weft_command_start(&c, argv, &o), -ENOENT);
    assert_null(c);
    o.cwd = "/dev/null";
    assert_int_equal(weft_command_start(&c, argv, &o), -ENOTDIR);
    assert_true(no_children());
}

static void test_cwd(void **state)
{
    char dir[] = "/tmp/weft-cmd-XXXXXX", real[PATH_MAX], want[PATH_MAX + 2];
    const char *argv[] = {"pwd", NULL};
    weft_command_opts o = pipe_out;
    weft_buf out = WEFT_BUF_INIT;
    int code = -1;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_non_null(realpath(dir, real));
    o.cwd = dir;
    assert_int_equal(weft_command_run(argv, &o, NULL, 0, &out, NULL, T, &code),
                     0);
    assert_int_equal(code, 0);
    snprintf(want, sizeof want, "%s\n", real);
    assert_string_equal(out.data, want);
    weft_buf_free(&out);
    rmdir(dir);
}

static void test_env(void **state)
{
    const char *argv[] = {"sh", "-c", "echo \"$FOO-$WEFT_TEST_PARENT\"", NULL};
    const char *env[] = {"FOO=bar", NULL};
    weft_command_opts o = pipe_out;
    weft_buf out = WEFT_BUF_INIT;
    int code = -1;

    (void)state;
    /* The parent's variables must not leak into a given environment. */
    setenv("WEFT_TEST_PARENT", "leaked", 1);
    o.env = env;
    assert_int_equal(weft_command_run(argv, &o, NULL, 0, &out, NULL, T, &code),
                     0);
    assert_int_equal(code, 0);
    assert_string_equal(out.data, "bar-\n");
    /* NULL inherits. */
    weft_buf_reset(&out);
    assert_int_equal(
        weft_command_run(argv, &pipe_out, NULL, 0, &out, NULL, T, &code), 0);
    assert_string_equal(out.data, "-leaked\n");
    unsetenv("WEFT_TEST_PARENT");
    weft_buf_free(&out);
}

static void test_bad_args(void **state)
{
    const char *argv[] = {"true", NULL};
    const char *empty[] = {NULL};
    weft_command_opts o = {0};
    weft_command *c = (weft_command *)&c;

    (void)state;
    assert_int_equal(weft_command_start(NULL, argv, NULL), -EINVAL);
    assert_int_equal(weft_command_start(&c, NULL, NULL), -EINVAL);
    assert_null(c);
    assert_int_equal(weft_command_start(&c, empty, NULL), -EINVAL);
    o.stdin_mode = WEFT_STDIO_STDOUT; /* stderr only */
    assert_int_equal(weft_command_start(&c, argv, &o), -EINVAL);
    o.stdin_mode = 0;
    o.stdout_mode = WEFT_STDIO_STDOUT;
    assert_int_equal(weft_command_start(&c, argv, &o), -EINVAL);
    o.stdout_mode = 0;
    o.stderr_mode = 4;
    assert_int_equal(weft_command_start(&c, argv, &o), -EINVAL);
    o.stderr_mode = -1;
    assert_int_equal(weft_command_start(&c, argv, &o), -EINVAL);
    /* Input with no stdin pipe to carry it. */
    assert_int_equal(weft_command_run(argv, NULL, "x", 1, NULL, NULL, -1, NULL),
                     -EINVAL);
    assert_true(no_children());

    assert_int_equal(weft_command_destroy(NULL), 0);
    assert_int_equal(weft_command_stdin_fd(NULL), -1);
    assert_int_equal(weft_command_stdout_fd(NULL), -1);
    assert_int_equal(weft_command_stderr_fd(NULL), -1);
    assert_int_equal(weft_command_pid(NULL), 0);
    assert_int_equal(weft_command_wait(NULL, 0, NULL), -EINVAL);
    assert_int_equal(weft_command_kill(NULL), -EINVAL);

    assert_int_equal(weft_command_start(&c, argv, &pipe_out), 0);
    assert_int_equal(weft_command_signal(c, 0), -EINVAL);
    assert_int_equal(weft_command_signal(c, -1), -EINVAL);
    assert_int_equal(weft_command_signal(c, NSIG), -EINVAL);
    assert_int_equal(weft_command_communicate(c, "x", 1, NULL, NULL, -1),
                     -EINVAL);
    assert_int_equal(weft_command_communicate(c, NULL, 0, NULL, NULL, T), 0);
    assert_int_equal(weft_command_destroy(c), 0);
}

/* ---- Streams ------------------------------------------------------------ */

static void test_stdin_roundtrip(void **state)
{
    const char *argv[] = {"cat", NULL};
    weft_command_opts o = pipe_out;
    weft_buf out = WEFT_BUF_INIT;
    size_t n = 4 * MiB, i;
    char *in = malloc(n);
    int code = -1;

    (void)state;
    assert_non_null(in);
    for (i = 0; i < n; i++)
        in[i] = (char)(i * 7 + i / 251);
    o.stdin_mode = WEFT_STDIO_PIPE;
    assert_int_equal(
        weft_command_run(argv, &o, in, n, &out, NULL, 10000, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);
    weft_buf_free(&out);
    free(in);
}

/* The child writes 5 MB to stderr before it reads any input, then echoes
 * the 4 MiB input to stdout, then 5 MB more to stderr: writing all input
 * first, or reading one stream to its end before the other, hangs. */
static void test_no_deadlock(void **state)
{
    const char *argv[] = {"sh", "-c",
                          "head -c 5000000 /dev/zero >&2; cat;"
                          " head -c 5000000 /dev/zero >&2",
                          NULL};
    weft_buf out = WEFT_BUF_INIT, err = WEFT_BUF_INIT;
    size_t n = 4 * MiB, i;
    char *in = malloc(n);
    int code = -1;

    (void)state;
    assert_non_null(in);
    for (i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    assert_int_equal(
        weft_command_run(argv, &pipe_all, in, n, &out, &err, 10000, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);
    assert_int_equal(err.len, 10000000);
    for (i = 0; i < err.len; i++)
        if (err.data[i] != 0)
            fail_msg("stderr byte %zu is %d", i, err.data[i]);
    weft_buf_free(&out);
    weft_buf_free(&err);
    free(in);
}

/* Both outputs written at the same time, megabytes each. */
static void test_both_outputs(void **state)
{
    const char *argv[] = {"sh", "-c",
                          "head -c 5000000 /dev/zero &"
                          " head -c 6000000 /dev/zero >&2; wait",
                          NULL};
    weft_buf out = WEFT_BUF_INIT, err = WEFT_BUF_INIT;
    int code = -1;

    (void)state;
    assert_int_equal(
        weft_command_run(argv, &pipe_all, NULL, 0, &out, &err, T, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(out.len, 5000000);
    assert_int_equal(err.len, 6000000);
    weft_buf_free(&out);
    weft_buf_free(&err);
}

static void test_stderr_to_stdout(void **state)
{
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
    weft_command_opts o = pipe_out;
    weft_buf out = WEFT_BUF_INIT, err = WEFT_BUF_INIT;
    weft_command *c;
    int code = -1;

    (void)state;
    o.stderr_mode = WEFT_STDIO_STDOUT;
    assert_int_equal(weft_command_start(&c, argv, &o), 0);
    assert_true(weft_command_stdout_fd(c) >= 0);
    assert_int_equal(weft_command_stderr_fd(c), -1);
    assert_int_equal(weft_command_stdin_fd(c), -1);
    assert_int_equal(weft_command_communicate(c, NULL, 0, &out, &err, 5000), 0);
    assert_int_equal(weft_command_wait(c, 0, &code), 0);
    assert_int_equal(code, 0);
    assert_string_equal(out.data, "out\nerr\n");
    assert_int_equal(err.len, 0);
    assert_int_equal(weft_command_destroy(c), 0);
    weft_buf_free(&out);
}

/* What fd of pid points to, as /proc shows it. */
static void fd_target(pid_t pid, int fd, char *buf, size_t size)
{
    char path[64];
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
    n = readlink(path, buf, size - 1);
    assert_true(n > 0);
    buf[n] = '\0';
}

static void test_stdio_null(void **state)
{
    const char *sleeper[] = {"sleep", "10", NULL};
    const char *cat[] = {"cat", NULL};
    weft_command_opts o = {NULL, NULL, WEFT_STDIO_NULL, WEFT_STDIO_NULL,
                           WEFT_STDIO_NULL};
    weft_buf out = WEFT_BUF_INIT;
    weft_command *c;
    char link[256];
    int fd, code = -1;

    (void)state;
    /* No shell here: dash applies a command's redirections to itself. */
    assert_int_equal(weft_command_start(&c, sleeper, &o), 0);
    for (fd = 0; fd <= 2; fd++) {
        fd_target(weft_command_pid(c), fd, link, sizeof link);
        assert_string_equal(link, "/dev/null");
    }
    assert_int_equal(weft_command_stdin_fd(c), -1);
    assert_int_equal(weft_command_stdout_fd(c), -1);
    assert_int_equal(weft_command_stderr_fd(c), -1);
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_wait(c, 2000, NULL), 0);
    assert_int_equal(weft_command_destroy(c), 0);

    /* cat ends at once on an empty stdin. */
    o.stdout_mode = WEFT_STDIO_PIPE;
    assert_int_equal(
        weft_command_run(cat, &o, NULL, 0, &out, NULL, 5000, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(out.len, 0);
    weft_buf_free(&out);
}

static void test_stdin_fd_by_hand(void **state)
{
    const char *argv[] = {"cat", NULL};
    weft_command_opts o = pipe_out;
    weft_buf out = WEFT_BUF_INIT;
    weft_command *c;
    int fd;

    (void)state;
    o.stdin_mode = WEFT_STDIO_PIPE;
    assert_int_equal(weft_command_start(&c, argv, &o), 0);
    fd = weft_command_stdin_fd(c);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fd, "xyz", 3), 3);
    weft_command_close_stdin(c);
    assert_int_equal(weft_command_stdin_fd(c), -1);
    assert_int_equal(weft_command_communicate(c, NULL, 0, &out, NULL, 5000), 0);
    assert_string_equal(out.data, "xyz");
    /* The pipes are closed once read to their end. */
    assert_int_equal(weft_command_stdout_fd(c), -1);
    assert_int_equal(weft_command_destroy(c), 0);
    weft_buf_free(&out);
}

/* A child that never reads its input: our writes fail with EPIPE, which
 * must neither kill us with SIGPIPE nor leave one pending. */
static void test_child_ignores_input(void **state)
{
    const char *argv[] = {"true", NULL};
    weft_command_opts o = {0};
    sigset_t pending, mask;
    size_t n = 4 * MiB;
    char *in = calloc(1, n);
    int code = -1;

    (void)state;
    assert_non_null(in);
    o.stdin_mode = WEFT_STDIO_PIPE;
    assert_int_equal(weft_command_run(argv, &o, in, n, NULL, NULL, 5000, &code),
                     0);
    assert_int_equal(code, 0);
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    assert_false(sigismember(&mask, SIGPIPE));
    free(in);
}

/* The child gets an empty signal mask and SIGPIPE back at its default,
 * whatever the calling thread blocks or the program ignores. */
static void test_child_signals_reset(void **state)
{
    const char *argv[] = {"sleep", "10", NULL};
    struct sigaction ign, old;
    unsigned long long blocked, ignored;
    sigset_t term, oldmask;
    weft_command *c;

    (void)state;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &oldmask);
    assert_int_equal(weft_command_start(&c, argv, NULL), 0);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGPIPE, &old, NULL);
    /* posix_spawn returns after the exec: /proc shows sleep itself. */
    blocked = proc_mask(weft_command_pid(c), "SigBlk");
    ignored = proc_mask(weft_command_pid(c), "SigIgn");
    /* SIGKILL, not SIGTERM, so that a failure leaves no child behind. */
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_wait(c, T, NULL), 0);
    assert_int_equal(weft_command_destroy(c), 0);
    assert_int_equal(blocked, 0);
    assert_int_equal(ignored & (1ULL << (SIGPIPE - 1)), 0);
}

/* The helper half of test_closed_stdio: this program re-executed with
 * its stdin and stdout closed. Exit status 0 if the command's stderr pipe
 * survived, 2 if the streams were not closed after all, 1 otherwise. */
#define CLOSED_STDIO_HELPER "--closed-stdio-helper"
static int closed_stdio_helper(void)
{
    const char *argv[] = {"sh", "-c", "echo err >&2", NULL};
    weft_command_opts o = {NULL, NULL, WEFT_STDIO_NULL, WEFT_STDIO_NULL,
                           WEFT_STDIO_PIPE};
    weft_buf err = WEFT_BUF_INIT;
    int code = -1, ok;

    if (fcntl(0, F_GETFD) != -1 || fcntl(1, F_GETFD) != -1)
        return 2;
    ok = weft_command_run(argv, &o, NULL, 0, NULL, &err, T, &code) == 0 &&
         code == 0 && err.len == 4 && memcmp(err.data, "err\n", 4) == 0;
    weft_buf_free(&err);
    return ok ? 0 : 1;
}

/* With the caller's stdin and stdout closed, a new pipe lands on 0 or 1,
 * where the child's own /dev/null redirections would overwrite it. Run in
 * a fresh copy of this program (not a fork: ThreadSanitizer refuses new
 * threads after forking a threaded process), whose streams are its own. */
static void test_closed_stdio(void **state)
{
    char *const argv[] = {"test_command", CLOSED_STDIO_HELPER, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status;

    (void)state;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, 0);
    posix_spawn_file_actions_addclose(&fa, 1);
    assert_int_equal(
        posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- Caps, timeouts, lifetime ------------------------------------------ */

static void test_buffer_cap(void **state)
{
    const char *big[] = {"head", "-c", "100000", "/dev/zero", NULL};
    const char *four[] = {"printf", "abcd", NULL};
    weft_buf out;
    weft_command *c;
    int code = -1;

    (void)state;
    weft_buf_init(&out, 1000);
    assert_int_equal(weft_command_start(&c, big, &pipe_out), 0);
    assert_int_equal(weft_command_communicate(c, NULL, 0, &out, NULL, 5000),
                     -EMSGSIZE);
    assert_int_equal(out.len, 1000);
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_wait(c, 2000, NULL), 0);
    assert_int_equal(weft_command_destroy(c), 0);

    /* run() kills and reaps on any error. */
    weft_buf_free(&out);
    weft_buf_init(&out, 1000);
    assert_int_equal(
        weft_command_run(big, &pipe_out, NULL, 0, &out, NULL, 5000, &code),
        -EMSGSIZE);
    assert_true(no_children());

    /* Output exactly as long as the cap fits. */
    weft_buf_free(&out);
    weft_buf_init(&out, 4);
    assert_int_equal(
        weft_command_run(four, &pipe_out, NULL, 0, &out, NULL, 5000, &code), 0);
    assert_string_equal(out.data, "abcd");
    weft_buf_free(&out);
}

static void test_run_timeout(void **state)
{
    const char *argv[] = {"sleep", "10", NULL};
    int64_t t0, dt;
    int code = 12345;

    (void)state;
    t0 = weft_now_ms();
    assert_int_equal(
        weft_command_run(argv, NULL, NULL, 0, NULL, NULL, 300, &code),
        -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 290);
    assert_true(dt < 1000);
    assert_int_equal(code, 12345);
    assert_true(no_children());
}

static void test_wait_timeouts(void **state)
{
    const char *argv[] = {"sleep", "10", NULL};
    weft_command *c;
    int64_t t0;
    int code = 12345;

    (void)state;
    assert_int_equal(weft_command_start(&c, argv, &pipe_out), 0);
    assert_int_equal(weft_command_wait(c, 0, &code), -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_command_wait(c, 50, &code), -ETIMEDOUT);
    assert_true(weft_now_ms() - t0 >= 49);
    assert_int_equal(code, 12345);
    /* communicate follows the same convention. */
    assert_int_equal(weft_command_communicate(c, NULL, 0, NULL, NULL, 0),
                     -EAGAIN);
    assert_int_equal(weft_command_communicate(c, NULL, 0, NULL, NULL, 50),
                     -ETIMEDOUT);
    assert_int_equal(weft_command_destroy(c), -EBUSY);
    assert_int_equal(weft_command_pid(c) > 0, 1);
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_communicate(c, NULL, 0, NULL, NULL, 2000), 0);
    assert_int_equal(weft_command_wait(c, 0, &code), 0);
    assert_int_equal(code, -SIGKILL);
    assert_int_equal(weft_command_destroy(c), 0);
}

/* A child that reads a little input and then stops: communicate must not
 * block in write() on the full pipe past its timeout. */
static void test_timeout_input_stuck(void **state)
{
    const char *argv[] = {"sh", "-c", "head -c 5000 >/dev/null; exec sleep 2",
                          NULL};
    weft_command_opts o = {0};
    size_t n = MiB;
    char *in = calloc(1, n);
    weft_command *c;
    int64_t t0, dt;

    (void)state;
    assert_non_null(in);
    o.stdin_mode = WEFT_STDIO_PIPE;
    assert_int_equal(weft_command_start(&c, argv, &o), 0);
    t0 = weft_now_ms();
    assert_int_equal(weft_command_communicate(c, in, n, NULL, NULL, 200),
                     -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_int_equal(weft_command_kill(c), 0);
    assert_int_equal(weft_command_wait(c, T, NULL), 0);
    assert_int_equal(weft_command_destroy(c), 0);
    free(in);
    assert_true(dt >= 190);
    assert_true(dt < 1000);
}

/* A communicate that timed out continues where it stopped: output is
 * appended and input already written is not sent again. */
static void test_communicate_resumes(void **state)
{
    const char *argv[] = {"sh", "-c", "echo a; sleep 0.3; cat", NULL};
    weft_buf out = WEFT_BUF_INIT;
    size_t n = MiB, i;
    weft_command *c;
    char *in = malloc(n + 2);
    int code = -1;

    (void)state;
    assert_non_null(in);
    memcpy(in, "a\n", 2); /* what the output should be in the end */
    for (i = 2; i < n + 2; i++)
        in[i] = (char)(i % 253);
    assert_int_equal(weft_command_start(&c, argv, &pipe_all), 0);
    assert_int_equal(weft_command_communicate(c, in + 2, n, &out, NULL, 100),
                     -ETIMEDOUT);
    assert_int_equal(out.len, 2);
    assert_true(weft_command_stdin_fd(c) >= 0);
    /* The descriptor is blocking again for a caller who writes itself. */
    assert_false(fcntl(weft_command_stdin_fd(c), F_GETFL) & O_NONBLOCK);
    assert_int_equal(weft_command_communicate(c, in + 2, n, &out, NULL, 5000),
                     0);
    assert_int_equal(weft_command_wait(c, 0, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(out.len, n + 2);
    assert_memory_equal(out.data, in, n + 2);
    assert_int_equal(weft_command_destroy(c), 0);
    weft_buf_free(&out);
    free(in);
}

/* Nobody waits, yet the reaper reaps the child as soon as it exits, and
 * keeps its exit code. */
static void test_no_zombie(void **state)
{
    const char *argv[] = {"sh", "-c", "exit 7", NULL};
    weft_command *c;
    pid_t pid;
    char st = 0;
    int i, code = -1;

    (void)state;
    assert_int_equal(weft_command_start(&c, argv, NULL), 0);
    pid = weft_command_pid(c);
    for (i = 0; i < 200; i++) {
        st = proc_state(pid);
        if (st == 0)
            break;
        weft_sleep_ms(10);
    }
    if (st != 0)
        fail_msg("child %d still in /proc with state %c", (int)pid, st);
    assert_int_equal(weft_command_wait(c, 0, &code), 0);
    assert_int_equal(code, 7);
    assert_int_equal(weft_command_destroy(c), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_captured),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_killed_by_signal),
        cmocka_unit_test(test_missing_program),
        cmocka_unit_test(test_not_executable),
        cmocka_unit_test(test_bad_cwd),
        cmocka_unit_test(test_cwd),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_stdin_roundtrip),
        cmocka_unit_test(test_no_deadlock),
        cmocka_unit_test(test_both_outputs),
        cmocka_unit_test(test_stderr_to_stdout),
        cmocka_unit_test(test_stdio_null),
        cmocka_unit_test(test_stdin_fd_by_hand),
        cmocka_unit_test(test_child_ignores_input),
        cmocka_unit_test(test_child_signals_reset),
        cmocka_unit_test(test_closed_stdio),
        cmocka_unit_test(test_buffer_cap),
        cmocka_unit_test(test_run_timeout),
        cmocka_unit_test(test_wait_timeouts),
        cmocka_unit_test(test_timeout_input_stuck),
        cmocka_unit_test(test_communicate_resumes),
        cmocka_unit_test(test_no_zombie),
    };

    if (argc == 2 && strcmp(argv[1], CLOSED_STDIO_HELPER) == 0)
        return closed_stdio_helper();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
