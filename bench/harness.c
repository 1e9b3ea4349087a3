/* harness.c - runs a benchmark's contenders interleaved over several rounds
 * and prints a Markdown table of medians and ratios (see harness.h).
 *
 * A round runs every contender once, in the order they were added, so that
 * a burst of noise on this shared machine lands on all of them rather than
 * on whichever happened to run alone at the time. Each round yields one
 * ns/op sample per contender; medians over rounds resist the outliers that
 * a mean would absorb.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/core.h>

#include "harness.h"

extern char **environ;

enum kind { K_FN, K_TIMED, K_EXTERNAL, K_SKIPPED };
enum state { S_OK, S_SKIPPED, S_FAILED };

struct contender {
    char *name;
    enum kind kind;
    bench_fn fn;
    void *ctx;
    char **argv; /* K_EXTERNAL: owned, NULL-terminated */
    int argc;
    enum state state;
    char note[256];  /* why skipped or failed */
    double *samples; /* ns/op, one per counted round */
    int nsamples;
    double median, min, max;
};

struct check {
    char *name;
    char *ref; /* NULL: the baseline */
    enum bench_op op;
    double ratio;
    char *label;
};

struct bench_suite {
    char *title;
    char *unit_desc;
    struct contender *c;
    int nc;
    struct check *chk;
    int nchk;
    char *baseline; /* NULL: the first contender */
    /* From the command line; 0 or -1 when not given. */
    int opt_rounds;
    long opt_iterations;
    int opt_warmup; /* -1 default, 0 off, 1 on */
    int quick;
    char *markdown;
    char *argv0;
};

/* ---- Small helpers ----------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xmalloc(n), s, n);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median_of(const double *v, int n)
{
    double *t = xmalloc(sizeof *t * (size_t)n);
    double m;

    memcpy(t, v, sizeof *t * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    free(t);
    return m;
}

/* A figure for the table: digits grouped by thousands, because ns/op of
 * a fork and of a mutex differ by 10^4 and both must read at a glance. */
static void fmt_num(char *out, size_t size, double v)
{
    char raw[64], *dot;
    size_t len, intlen, i, o = 0;

    if (v < 10)
        snprintf(raw, sizeof raw, "%.2f", v);
    else if (v < 1000)
        snprintf(raw, sizeof raw, "%.1f", v);
    else
        snprintf(raw, sizeof raw, "%.0f", v);
    len = strlen(raw);
    dot = strchr(raw, '.');
    intlen = dot ? (size_t)(dot - raw) : len;
    for (i = 0; i < len && o + 2 < size; i++) {
        if (i > 0 && i < intlen && (intlen - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

static struct contender *find(bench_suite *s, const char *name)
{
    int i;

    for (i = 0; i < s->nc; i++)
        if (strcmp(s->c[i].name, name) == 0)
            return &s->c[i];
    return NULL;
}

static struct contender *baseline(bench_suite *s)
{
    if (s->baseline)
        return find(s, s->baseline);
    return s->nc ? &s->c[0] : NULL;
}

/* ---- Suite ------------------------------------------------------------- */

bench_suite *bench_suite_new(const char *title, const char *unit_desc)
{
    bench_suite *s = xmalloc(sizeof *s);

    memset(s, 0, sizeof *s);
    s->title = xstrdup(title);
    s->unit_desc = xstrdup(unit_desc);
    s->opt_warmup = -1;
    s->argv0 = xstrdup("bench");
    return s;
}

void bench_suite_free(bench_suite *s)
{
    int i, j;

    if (!s)
        return;
    for (i = 0; i < s->nc; i++) {
        free(s->c[i].name);
        for (j = 0; j < s->c[i].argc; j++)
            free(s->c[i].argv[j]);
        free(s->c[i].argv);
        free(s->c[i].samples);
    }
    for (i = 0; i < s->nchk; i++) {
        free(s->chk[i].name);
        free(s->chk[i].ref);
        free(s->chk[i].label);
    }
    free(s->c);
    free(s->chk);
    free(s->title);
    free(s->unit_desc);
    free(s->baseline);
    free(s->markdown);
    free(s->argv0);
    free(s);
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--rounds N] [--iterations N] [--quick] "
            "[--no-warmup] [--markdown FILE]\n"
            "  --rounds N       counted rounds (each runs every contender)\n"
            "  --iterations N   operations per contender per round\n"
            "  --quick          smoke run: 3 rounds, a tenth of the "
            "iterations, no warm-up\n"
            "  --no-warmup      skip the uncounted warm-up round\n"
            "  --markdown FILE  also append the table and targets to FILE\n",
            argv0);
}

static long parse_positive(const char *arg, const char *opt, const char *argv0)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v <= 0) {
        fprintf(stderr, "%s: %s wants a positive number, not '%s'\n", argv0,
                opt, arg);
        exit(2);
    }
    return v;
}

void bench_parse_args(bench_suite *s, int argc, char **argv)
{
    static const struct option opts[] = {
        {"rounds", required_argument, NULL, 'r'},
        {"iterations", required_argument, NULL, 'i'},
        {"quick", no_argument, NULL, 'q'},
        {"no-warmup", no_argument, NULL, 'W'},
        {"markdown", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *argv0 = argc > 0 ? argv[0] : "bench";
    long v;
    int ch;

    /* A program with several suites parses the same argv for each: start
     * getopt afresh (0, not 1, also resets glibc's internal state). */
    optind = 0;

    free(s->argv0);
    s->argv0 = xstrdup(argv0);
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            v = parse_positive(optarg, "--rounds", argv0);
            if (v > 10000) {
                fprintf(stderr, "%s: --rounds %ld is too many\n", argv0, v);
                exit(2);
            }
            s->opt_rounds = (int)v;
            break;
        case 'i':
            s->opt_iterations = parse_positive(optarg, "--iterations", argv0);
            break;
        case 'q':
            s->quick = 1;
            break;
        case 'W':
            s->opt_warmup = 0;
            break;
        case 'm':
            free(s->markdown);
            s->markdown = xstrdup(optarg);
            break;
        case 'h':
            usage(stdout, argv0);
            exit(0);
        default:
            usage(stderr, argv0);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv0, argv[optind]);
        usage(stderr, argv0);
        exit(2);
    }
}

static struct contender *add(bench_suite *s, const char *name, enum kind k)
{
    struct contender *c;

    if (find(s, name)) {
        fprintf(stderr, "bench: two contenders named '%s'\n", name);
        exit(1);
    }
    s->c = xrealloc(s->c, sizeof *s->c * (size_t)(s->nc + 1));
    c = &s->c[s->nc++];
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
    c->kind = k;
    c->state = S_OK;
    return c;
}

void bench_add(bench_suite *s, const char *name, bench_fn fn, void *ctx)
{
    struct contender *c = add(s, name, K_FN);

    c->fn = fn;
    c->ctx = ctx;
}

void bench_add_timed(bench_suite *s, const char *name, bench_fn fn, void *ctx)
{
    struct contender *c = add(s, name, K_TIMED);

    c->fn = fn;
    c->ctx = ctx;
}

/* True if prog can be executed: a path that is executable, or a bare
 * name found executable in one of PATH's directories, as execvp would. */
static int program_exists(const char *prog)
{
    const char *path = getenv("PATH"), *p, *colon;
    char buf[4096];
    size_t dirlen;

    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    if (!path)
        path = "/usr/bin:/bin";
    for (p = path;; p = colon + 1) {
        colon = strchr(p, ':');
        dirlen = colon ? (size_t)(colon - p) : strlen(p);
        if ((int)snprintf(buf, sizeof buf, "%.*s/%s", (int)dirlen,
                          dirlen ? p : ".", prog) < (int)sizeof buf &&
            access(buf, X_OK) == 0)
            return 1;
        if (!colon)
            return 0;
    }
}

void bench_add_external(bench_suite *s, const char *name,
                        const char *const argv[])
{
    struct contender *c = add(s, name, K_EXTERNAL);
    int n = 0, i;

    while (argv[n])
        n++;
    if (n == 0) {
        fprintf(stderr, "bench: external contender '%s' without argv\n", name);
        exit(1);
    }
    /* Room for the iteration count and the terminating NULL. */
    c->argv = xmalloc(sizeof *c->argv * (size_t)(n + 2));
    for (i = 0; i < n; i++)
        c->argv[i] = xstrdup(argv[i]);
    c->argv[n] = NULL;
    c->argv[n + 1] = NULL;
    c->argc = n;
    if (!program_exists(argv[0])) {
        c->state = S_SKIPPED;
        snprintf(c->note, sizeof c->note, "%s not found%s", argv[0],
                 strchr(argv[0], '/') ? "" : " on PATH");
    }
}

void bench_add_skipped(bench_suite *s, const char *name, const char *why)
{
    struct contender *c = add(s, name, K_SKIPPED);

    c->state = S_SKIPPED;
    snprintf(c->note, sizeof c->note, "%s", why);
}

void bench_set_baseline(bench_suite *s, const char *name)
{
    free(s->baseline);
    s->baseline = xstrdup(name);
}

void bench_check(bench_suite *s, const char *name, enum bench_op op,
                 double ratio, const char *ref, const char *label)
{
    struct check *k;

    s->chk = xrealloc(s->chk, sizeof *s->chk * (size_t)(s->nchk + 1));
    k = &s->chk[s->nchk++];
    k->name = xstrdup(name);
    k->ref = ref ? xstrdup(ref) : NULL;
    k->op = op;
    k->ratio = ratio;
    k->label = xstrdup(label);
}

char *bench_path_beside(const char *file, const char *name)
{
    const char *slash = strrchr(file, '/');
    size_t dirlen = slash ? (size_t)(slash - file) : 0;
    size_t n = dirlen + strlen(name) + 16;
    char *path = xmalloc(n);
    struct stat st;

    if (slash) {
        snprintf(path, n, "%.*s/%s", (int)dirlen, file, name);
        if (stat(path, &st) == 0)
            return path;
    }
    snprintf(path, n, "bench/%s", name);
    return path;
}

/* ---- Running ----------------------------------------------------------- */

/* Run an external contender once: ns/op it reported, or a negative errno
 * value with c->note saying what went wrong. */
static double run_external(struct contender *c, long iterations)
{
    char count[32], out[4096], *line, *end, *p;
    posix_spawn_file_actions_t fa;
    size_t used = 0;
    int pfd[2], rc, status;
    ssize_t n;
    pid_t pid;
    double v;

    snprintf(count, sizeof count, "%ld", iterations);
    c->argv[c->argc] = count;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    rc = posix_spawnp(&pid, c->argv[0], &fa, NULL, c->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    c->argv[c->argc] = NULL;
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        snprintf(c->note, sizeof c->note, "cannot run %s: %s", c->argv[0],
                 strerror(rc));
        return -rc;
    }
    for (;;) {
        n = read(pfd[0], out + used, sizeof out - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used == sizeof out - 1) {
            /* Keep the tail: the figure is on the last line. */
            memmove(out, out + used / 2, used - used / 2);
            used -= used / 2;
        }
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(c->note, sizeof c->note, "%s %s %d", c->argv[0],
                 WIFEXITED(status) ? "exited with status" : "killed by signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -ECHILD;
    }
    out[used] = '\0';
    /* The last non-empty line holds the figure. */
    while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == ' ' ||
                        out[used - 1] == '\r' || out[used - 1] == '\t'))
        out[--used] = '\0';
    line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    for (p = line; *p == ' ' || *p == '\t'; p++)
        ;
    errno = 0;
    v = strtod(p, &end);
    if (errno || end == p || *end || !isfinite(v) || v <= 0) {
        snprintf(c->note, sizeof c->note,
                 "%s printed '%.60s', not ns per operation", c->argv[0], p);
        return -EPROTO;
    }
    return v;
}

/* Run one contender once: its ns/op, or a negative errno value. */
static double run_one(struct contender *c, long iterations)
{
    int64_t t0, r;

    switch (c->kind) {
    case K_FN:
        t0 = weft_now_ns();
        r = c->fn(c->ctx, iterations);
        if (r < 0)
            break;
        return (double)(weft_now_ns() - t0) / (double)iterations;
    case K_TIMED:
        r = c->fn(c->ctx, iterations);
        /* Zero would make every ratio and rate meaningless (and a real
         * operation never takes no time at all). */
        if (r == 0)
            r = -ERANGE;
        if (r < 0)
            break;
        return (double)r / (double)iterations;
    case K_EXTERNAL:
        return run_external(c, iterations);
    default:
        return -EINVAL;
    }
    snprintf(c->note, sizeof c->note, "%s (%s)", weft_strerror((int)r),
             weft_err_name((int)r));
    return (double)r;
}

static void run_round(bench_suite *s, long iterations, int counted)
{
    struct contender *c;
    double v;
    int i;

    for (i = 0; i < s->nc; i++) {
        c = &s->c[i];
        if (c->state != S_OK)
            continue;
        v = run_one(c, iterations);
        if (v < 0) {
            c->state = S_FAILED;
            fprintf(stderr, "bench: %s: %s\n", c->name, c->note);
            continue;
        }
        if (counted)
            c->samples[c->nsamples++] = v;
    }
}

/* ---- Reporting --------------------------------------------------------- */

static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");

    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* The section: heading, how it was run, the table, targets, notes. */
static void report(bench_suite *s, FILE *f, int rounds, long iterations,
                   int warmup, double load0, double load1)
{
    struct contender *b = baseline(s), *c, *r;
    char med[32], ops[32], lo[32], hi[32];
    double ratio, speedup;
    const char *verdict;
    int i, notes = 0;

    fprintf(f, "## %s\n\n", s->title);
    fprintf(f,
            "One operation: %s. %d rounds of %ld operations per contender, "
            "run interleaved%s; figures are medians (and extremes) of the "
            "per-round ns/op. Load average %.2f before, %.2f after.\n\n",
            s->unit_desc, rounds, iterations,
            warmup ? " after an uncounted warm-up round" : "", load0, load1);
    fprintf(f, "Command: `%s --rounds %d --iterations %ld`%s\n\n", s->argv0,
            rounds, iterations, s->quick ? " (from a --quick run)" : "");
    fprintf(f,
            "| contender | median ns/op | ops/s | min ns/op | max ns/op "
            "| vs %s |\n",
            b ? b->name : "baseline");
    fprintf(f, "|:--|--:|--:|--:|--:|--:|\n");
    for (i = 0; i < s->nc; i++) {
        c = &s->c[i];
        if (c->state != S_OK) {
            fprintf(f, "| %s | %s | | | | |\n", c->name,
                    c->state == S_SKIPPED ? "skipped" : "FAILED");
            continue;
        }
        fmt_num(med, sizeof med, c->median);
        fmt_num(ops, sizeof ops, 1e9 / c->median);
        fmt_num(lo, sizeof lo, c->min);
        fmt_num(hi, sizeof hi, c->max);
        if (b && b->state == S_OK)
            fprintf(f, "| %s%s | %s | %s | %s | %s | %.2fx |\n", c->name,
                    c == b ? " (baseline)" : "", med, ops, lo, hi,
                    c->median / b->median);
        else
            fprintf(f, "| %s | %s | %s | %s | %s | - |\n", c->name, med, ops,
                    lo, hi);
    }
    if (s->nchk) {
        fprintf(f, "\nTargets:\n\n");
        for (i = 0; i < s->nchk; i++) {
            c = find(s, s->chk[i].name);
            r = s->chk[i].ref ? find(s, s->chk[i].ref) : b;
            if (!c || !r || c->state != S_OK || r->state != S_OK) {
                struct contender *gone = !c || c->state != S_OK ? c : r;
                fprintf(f, "- SKIP %s: %s %s\n", s->chk[i].label,
                        gone ? gone->name : "(no such contender)",
                        gone && gone->state == S_FAILED ? "failed"
                                                        : "did not run");
                continue;
            }
            ratio = c->median / r->median;
            speedup = r->median / c->median;
            if (s->chk[i].op == BENCH_WITHIN) {
                verdict = ratio <= s->chk[i].ratio ? "PASS" : "MISS";
                fprintf(f, "- %s %s: %s / %s = %.3fx (limit %.2fx)\n", verdict,
                        s->chk[i].label, c->name, r->name, ratio,
                        s->chk[i].ratio);
            } else {
                verdict = speedup >= s->chk[i].ratio ? "PASS" : "MISS";
                fprintf(f, "- %s %s: %s / %s = %.3fx (need %.2fx)\n", verdict,
                        s->chk[i].label, r->name, c->name, speedup,
                        s->chk[i].ratio);
            }
        }
    }
    for (i = 0; i < s->nc; i++) {
        c = &s->c[i];
        if (c->state == S_OK)
            continue;
        if (!notes++)
            fprintf(f, "\nNotes:\n\n");
        fprintf(f, "- %s: %s: %s\n", c->name,
                c->state == S_SKIPPED ? "skipped" : "FAILED", c->note);
    }
    fprintf(f, "\n");
}

int bench_run(bench_suite *s, int rounds, long iterations)
{
    int warmup, i, r, failed = 0, progress = isatty(STDERR_FILENO);
    struct contender *c;
    double load0, load1;
    FILE *md;

    if (s->quick) {
        rounds = 3;
        iterations = iterations / 10 > 0 ? iterations / 10 : 1;
    }
    if (s->opt_rounds)
        rounds = s->opt_rounds;
    if (s->opt_iterations)
        iterations = s->opt_iterations;
    warmup = s->opt_warmup >= 0 ? s->opt_warmup : !s->quick;
    if (s->baseline && !find(s, s->baseline)) {
        fprintf(stderr, "bench: no contender named '%s' for the baseline\n",
                s->baseline);
        return 1;
    }
    for (i = 0; i < s->nc; i++) {
        s->c[i].samples =
            xrealloc(s->c[i].samples, sizeof(double) * (size_t)rounds);
        s->c[i].nsamples = 0;
    }
    load0 = load_average();
    if (warmup) {
        if (progress)
            fprintf(stderr, "%s: warm-up\n", s->argv0);
        /* A quarter of a round: enough to fault in code and data and to
         * start weft's helpers, without doubling the run time. */
        run_round(s, iterations / 4 > 0 ? iterations / 4 : 1, 0);
    }
    for (r = 0; r < rounds; r++) {
        if (progress)
            fprintf(stderr, "%s: round %d/%d\n", s->argv0, r + 1, rounds);
        run_round(s, iterations, 1);
    }
    load1 = load_average();
    for (i = 0; i < s->nc; i++) {
        c = &s->c[i];
        if (c->state == S_FAILED)
            failed = 1;
        if (c->state != S_OK)
            continue;
        c->median = median_of(c->samples, c->nsamples);
        c->min = c->max = c->samples[0];
        for (r = 1; r < c->nsamples; r++) {
            if (c->samples[r] < c->min)
                c->min = c->samples[r];
            if (c->samples[r] > c->max)
                c->max = c->samples[r];
        }
    }
    report(s, stdout, rounds, iterations, warmup, load0, load1);
    fflush(stdout);
    if (s->markdown) {
        md = fopen(s->markdown, "a");
        if (!md) {
            fprintf(stderr, "bench: %s: %s\n", s->markdown, strerror(errno));
            return 1;
        }
        report(s, md, rounds, iterations, warmup, load0, load1);
        if (fclose(md) != 0) {
            fprintf(stderr, "bench: %s: %s\n", s->markdown, strerror(errno));
            return 1;
        }
    }
    return failed;
}
