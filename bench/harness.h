/* harness.h - the benchmark harness every bench/bench_*.c program uses.
 *
 * Model
 *   A benchmark compares contenders side by side in one run: the same
 *   operation done by weft, by the raw mechanism weft wraps, by Python.
 *   The machines are shared and noisy, so a number measured alone means
 *   little; the contenders run interleaved (round 1: A, B, C; round 2: A,
 *   B, C; ...), each round gives one ns/op sample per contender, and the
 *   table reports the median, min and max of those samples and each
 *   median's ratio to the baseline's. Targets ("weft within 1.3x of raw")
 *   are checked against the medians and printed as PASS or MISS lines; a
 *   miss is reported, never hidden, and does not change the exit code.
 *
 *   A program: create a suite, parse the common options, add contenders,
 *   choose a baseline, record targets, run, free:
 *
 *       bench_suite *s = bench_suite_new("Title", "what one op is");
 *       bench_parse_args(s, argc, argv);
 *       bench_add(s, "weft", run_weft, &ctx);
 *       bench_add(s, "raw", run_raw, &ctx);
 *       bench_set_baseline(s, "raw");
 *       bench_check(s, "weft", BENCH_WITHIN, 1.3, NULL, "weft within 1.3x");
 *       rc = bench_run(s, 7, 1000);
 *       bench_suite_free(s);
 *       return rc;
 *
 *   bench/README.md explains the rules and the external-contender protocol.
 *
 * Threads and fork
 *   One suite, one thread. Contender functions may fork; the harness waits
 *   only for the external programs it starts itself (waitpid on their pid).
 */
#ifndef WEFT_BENCH_HARNESS_H
#define WEFT_BENCH_HARNESS_H

#include <stdint.h>

typedef struct bench_suite bench_suite;

/* A contender: do the operation `iterations` times.
 * Added with bench_add(), it returns 0 (the harness times the call with
 * weft_now_ns) or a negative errno value on failure. Added with
 * bench_add_timed(), it returns the nanoseconds it measured itself (so
 * that setup and teardown stay outside the figure), or a negative errno
 * value on failure. */
typedef int64_t (*bench_fn)(void *ctx, long iterations);

/* Comparisons for bench_check(). */
enum bench_op {
    /* name's median is at most ratio times ref's: "within 1.3x of raw" */
    BENCH_WITHIN = 1,
    /* ref's median is at least ratio times name's: "5x faster than X" */
    BENCH_FASTER = 2
};

/* A new, empty suite. title heads the table; unit_desc says what one
 * operation is ("one process started and joined"). Both are copied.
 * Exits the program if out of memory (it is a benchmark, not a library). */
bench_suite *bench_suite_new(const char *title, const char *unit_desc);
void bench_suite_free(bench_suite *s);

/* Parse the options every benchmark takes (call it once per suite: a
 * program with several suites passes the same argv to each):
 *   --rounds N       rounds to run (default: the benchmark's)
 *   --iterations N   operations per contender per round
 *   --quick          a smoke run: 3 rounds, a tenth of the iterations,
 *                    no warm-up (explicit --rounds/--iterations win)
 *   --no-warmup      skip the uncounted warm-up round
 *   --markdown FILE  also append the section (table and targets) to FILE
 *   --help
 * Exits with status 0 after --help and 2 after a bad option. */
void bench_parse_args(bench_suite *s, int argc, char **argv);

/* Add a contender timed by the harness. name is copied; ctx is borrowed
 * and must live until bench_run() returns. Contenders run in the order
 * they were added. */
void bench_add(bench_suite *s, const char *name, bench_fn fn, void *ctx);
/* Add a contender that times itself (see bench_fn). */
void bench_add_timed(bench_suite *s, const char *name, bench_fn fn, void *ctx);
/* Add a contender that is another program: argv (NULL-terminated, copied)
 * is run with the iteration count appended as one more argument, and
 * prints its ns per operation on stdout (protocol in bench/README.md).
 * If argv[0] is not found (a path that is not executable, or a name not
 * on PATH), the contender is skipped with a note instead of failing. */
void bench_add_external(bench_suite *s, const char *name,
                        const char *const argv[]);
/* Add a contender that is known up front not to run here, with the reason
 * (shown under the table). Its checks report SKIP. */
void bench_add_skipped(bench_suite *s, const char *name, const char *why);

/* The contender every ratio is relative to (default: the first added). */
void bench_set_baseline(bench_suite *s, const char *name);

/* Record a target, checked after the run and printed under the table:
 * name's median against ref's (ref NULL: the baseline) with op and ratio
 * (see enum bench_op). label is what the line says ("weft within 1.3x of
 * raw fork+waitpid"). Strings are copied. */
void bench_check(bench_suite *s, const char *name, enum bench_op op,
                 double ratio, const char *ref, const char *label);

/* Run the suite: an optional warm-up round, then `rounds` rounds of
 * `iterations` operations per contender, interleaved. The two numbers are
 * the benchmark's defaults; --rounds, --iterations and --quick override
 * them. Prints the Markdown section on stdout (and appends it to the
 * --markdown file). Returns the program's exit status: 0, or 1 if a
 * contender failed or the report could not be written. Missed targets
 * and skipped contenders do not count as failures. */
int bench_run(bench_suite *s, int rounds, long iterations);

/* A file that lives beside the benchmark's source (pass __FILE__), such
 * as a Python script: "<dir of file>/<name>" if that exists, else
 * "bench/<name>" (relative to the working directory). Returns a string the
 * caller frees; exits the program if out of memory. */
char *bench_path_beside(const char *file, const char *name);

#endif
