/* test_sched.c - weft-sched's simulator (src/sched): the textbook cases
 * with known answers (Silberschatz, Operating System Concepts, ch. 5:
 * FCFS average wait 17 and 3, SJF 7, SRTF 6.5, RR q=4 5.66, priority
 * 8.2), the multi-level feedback queue's rules (demotion after a whole
 * quantum, lower queues only when higher ones are empty, preemption by an
 * arrival back to the tail of the job's own queue, an FCFS last level),
 * the documented tie-breaking, idle gaps, the slice cap, the job-list
 * parser and its errors, and the text and SVG reports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"

/* ---- Helpers ------------------------------------------------------------ */

/* Averages are sums of whole numbers over n: equal to within rounding. */
#define assert_close(a, b, eps) assert_close_((a), (b), (eps), #a)

static void assert_close_(double a, double b, double eps, const char *what)
{
    double d = a - b;

    if (d < -eps || d > eps)
        fail_msg("%s = %.6f, expected %.6f", what, a, b);
}

static void load(sched_joblist *jl, const char *text)
{
    char err[SCHED_ERR_LEN] = "";
    int rc;

    sched_joblist_init(jl);
    rc = sched_parse(jl, text, strlen(text), err, sizeof err);
    if (rc != 0)
        fail_msg("parse: %s", err);
}

/* Run alg and check the Gantt chart against want, a string such as
 * "P1 0 4, P2 4 7, - 7 9" (name start end; "-" idle; "name:qN" for an
 * MLFQ level). */
static void run_expect(sched_alg alg, const sched_params *p,
                       const sched_joblist *jl, sched_result *r,
                       const char *want)
{
    char got[4096];
    size_t i, off = 0;

    assert_int_equal(sched_run(alg, p, jl, r), 0);
    got[0] = '\0';
    for (i = 0; i < r->nslices; i++) {
        const sched_slice *s = &r->slices[i];
        const char *name = s->job < 0 ? "-" : jl->jobs[s->job].name;

        if (alg == SCHED_MLFQ && s->job >= 0)
            off += (size_t)snprintf(got + off, sizeof got - off,
                                    "%s%s:q%d %lld %lld", i ? ", " : "", name,
                                    s->level, (long long)s->start,
                                    (long long)s->end);
        else
            off += (size_t)snprintf(got + off, sizeof got - off,
                                    "%s%s %lld %lld", i ? ", " : "", name,
                                    (long long)s->start, (long long)s->end);
        assert_true(off < sizeof got);
    }
    assert_string_equal(got, want);
}

static double avg_wait(const sched_joblist *jl, const sched_result *r)
{
    sched_stats st;
    double w;

    assert_int_equal(sched_stats_compute(jl, r, &st), 0);
    w = st.avg_waiting;
    sched_stats_free(&st);
    return w;
}

/* Each job's waiting time, "A=5 B=4 ...", in input order. */
static void waits_expect(const sched_joblist *jl, const sched_result *r,
                         const char *want)
{
    char got[1024];
    sched_stats st;
    size_t i, off = 0;

    assert_int_equal(sched_stats_compute(jl, r, &st), 0);
    got[0] = '\0';
    for (i = 0; i < jl->n; i++)
        off += (size_t)snprintf(got + off, sizeof got - off, "%s%s=%lld",
                                i ? " " : "", jl->jobs[i].name,
                                (long long)st.waiting[i]);
    sched_stats_free(&st);
    assert_string_equal(got, want);
}

/* ---- Textbook cases -------------------------------------------------------
 */

static void test_fcfs_convoy(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;

    (void)state;
    sched_params_default(&p);
    load(&jl, "P1 0 24\nP2 0 3\nP3 0 3\n");
    run_expect(SCHED_FCFS, &p, &jl, &r, "P1 0 24, P2 24 27, P3 27 30");
    assert_close(avg_wait(&jl, &r), 17.0, 1e-9);
    sched_result_free(&r);
    sched_joblist_free(&jl);

    /* The same jobs, the short ones first: average wait 3. */
    load(&jl, "P2 0 3\nP3 0 3\nP1 0 24\n");
    run_expect(SCHED_FCFS, &p, &jl, &r, "P2 0 3, P3 3 6, P1 6 30");
    assert_close(avg_wait(&jl, &r), 3.0, 1e-9);
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_sjf(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;

    (void)state;
    sched_params_default(&p);
    load(&jl, "P1 0 6\nP2 0 8\nP3 0 7\nP4 0 3\n");
    run_expect(SCHED_SJF, &p, &jl, &r, "P4 0 3, P1 3 9, P3 9 16, P2 16 24");
    assert_close(avg_wait(&jl, &r), 7.0, 1e-9);
    waits_expect(&jl, &r, "P1=3 P2=16 P3=9 P4=0");
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_srtf(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;
    sched_stats st;

    (void)state;
    sched_params_default(&p);
    load(&jl, "P1 0 8\nP2 1 4\nP3 2 9\nP4 3 5\n");
    run_expect(SCHED_SRTF, &p, &jl, &r,
               "P1 0 1, P2 1 5, P4 5 10, P1 10 17, P3 17 26");
    assert_close(avg_wait(&jl, &r), 6.5, 1e-9);
    waits_expect(&jl, &r, "P1=9 P2=0 P3=15 P4=2");
    assert_int_equal(sched_stats_compute(&jl, &r, &st), 0);
    assert_close(st.avg_turnaround, 13.0, 1e-9); /* 52 / 4 */
    assert_close(st.avg_response, 4.25, 1e-9);   /* 0+0+15+2 */
    sched_stats_free(&st);
    sched_result_free(&r);

    /* Non-preemptive SJF on the same list: 7.75. */
    run_expect(SCHED_SJF, &p, &jl, &r, "P1 0 8, P2 8 12, P4 12 17, P3 17 26");
    assert_close(avg_wait(&jl, &r), 7.75, 1e-9);
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_rr(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;
    sched_stats st;

    (void)state;
    sched_params_default(&p);
    p.quantum = 4;
    load(&jl, "P1 0 24\nP2 0 3\nP3 0 3\n");
    /* P1 runs alone from 10 on: its slices merge into one. */
    run_expect(SCHED_RR, &p, &jl, &r, "P1 0 4, P2 4 7, P3 7 10, P1 10 30");
    assert_close(avg_wait(&jl, &r), 17.0 / 3.0, 1e-9);
    assert_int_equal(sched_stats_compute(&jl, &r, &st), 0);
    assert_int_equal(st.response[0], 0);
    assert_int_equal(st.response[1], 4);
    assert_int_equal(st.response[2], 7);
    sched_stats_free(&st);
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_priority(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;

    (void)state;
    sched_params_default(&p);
    load(&jl, "P1 0 10 3\nP2 0 1 1\nP3 0 2 4\nP4 0 1 5\nP5 0 5 2\n");
    run_expect(SCHED_PRIO, &p, &jl, &r,
               "P2 0 1, P5 1 6, P1 6 16, P3 16 18, P4 18 19");
    assert_close(avg_wait(&jl, &r), 8.2, 1e-9);
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_preemptive_priority(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;

    (void)state;
    sched_params_default(&p);
    /* B (1) preempts A (3) on arrival; C (2) does not preempt B but runs
     * before A; D arrives with A's priority while A runs: no preemption. */
    load(&jl, "A 0 5 3\nB 1 2 1\nC 2 1 2\nD 5 2 3\n");
    run_expect(SCHED_PPRIO, &p, &jl, &r, "A 0 1, B 1 3, C 3 4, A 4 8, D 8 10");
    waits_expect(&jl, &r, "A=3 B=0 C=1 D=3");
    sched_result_free(&r);
    run_expect(SCHED_PRIO, &p, &jl, &r, "A 0 5, B 5 7, C 7 8, D 8 10");
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

/* ---- The multi-level feedback queue ----------------------------------------
 */

static void test_mlfq_rules(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;
    sched_stats st;

    (void)state;
    sched_params_default(&p);
    p.levels = 2;
    p.quanta[0] = 2;
    p.quanta[1] = 4;
    /* A uses its 2 at level 0 and drops; B arrives during A's quantum but
     * at the same level: no preemption; B uses its 2 and drops behind A.
     * Level 1 runs only now (level 0 empty). C arrives at 5 while A runs
     * from level 1: A is preempted at once and goes to the tail of level
     * 1, behind B; C finishes within its quantum and leaves. */
    load(&jl, "A 0 5\nB 1 3\nC 5 2\n");
    run_expect(SCHED_MLFQ, &p, &jl, &r,
               "A:q0 0 2, B:q0 2 4, A:q1 4 5, C:q0 5 7, B:q1 7 8, "
               "A:q1 8 10");
    waits_expect(&jl, &r, "A=5 B=4 C=0");
    assert_int_equal(sched_stats_compute(&jl, &r, &st), 0);
    assert_close(st.avg_waiting, 3.0, 1e-9);
    assert_int_equal(st.response[1], 1);
    sched_stats_free(&st);
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_mlfq_fcfs_last_level(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;
    char err[SCHED_ERR_LEN];

    (void)state;
    /* Silberschatz's three queues: quantum 8, quantum 16, FCFS. */
    sched_params_default(&p);
    p.levels = 3;
    p.quanta[0] = 8;
    p.quanta[1] = 16;
    p.quanta[2] = 0;
    assert_int_equal(sched_params_check(&p, err, sizeof err), 0);
    load(&jl, "L 0 40\nS 30 5\n");
    /* L: 8 at level 0, 16 at level 1, then FCFS at level 2 from 24; S
     * arrives at 30 and preempts it; L then runs to completion. */
    run_expect(SCHED_MLFQ, &p, &jl, &r,
               "L:q0 0 8, L:q1 8 24, L:q2 24 30, S:q0 30 35, L:q2 35 45");
    sched_result_free(&r);
    sched_joblist_free(&jl);

    /* A whole quantum at the lowest level keeps the job there. */
    p.levels = 2;
    p.quanta[0] = 1;
    p.quanta[1] = 2;
    load(&jl, "X 0 6\nY 0 3\n");
    run_expect(SCHED_MLFQ, &p, &jl, &r,
               "X:q0 0 1, Y:q0 1 2, X:q1 2 4, Y:q1 4 6, X:q1 6 9");
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

/* ---- Ties, idle time, limits ------------------------------------------------
 */

static void test_ties_and_idle(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;

    (void)state;
    sched_params_default(&p);
    p.quantum = 2;
    /* RR: B arrives at 2 just as A's quantum ends: B queues first. */
    load(&jl, "A 0 5\nB 2 3\n");
    run_expect(SCHED_RR, &p, &jl, &r, "A 0 2, B 2 4, A 4 6, B 6 7, A 7 8");
    sched_result_free(&r);
    sched_joblist_free(&jl);

    /* SRTF: on equal remaining time the running job keeps the CPU. */
    load(&jl, "A 0 4\nB 1 3\n");
    run_expect(SCHED_SRTF, &p, &jl, &r, "A 0 4, B 4 7");
    sched_result_free(&r);
    sched_joblist_free(&jl);

    /* SJF: equal bursts go by arrival, then by input order. */
    load(&jl, "late 1 3\nfirst 0 9\nb 2 3\na 2 3\n");
    run_expect(SCHED_SJF, &p, &jl, &r,
               "first 0 9, late 9 12, b 12 15, a 15 18");
    sched_result_free(&r);
    sched_joblist_free(&jl);

    /* FCFS in input order for equal arrivals; idle gaps are slices. */
    load(&jl, "Y 3 2\nX 3 1\nZ 10 1\n");
    run_expect(SCHED_FCFS, &p, &jl, &r, "- 0 3, Y 3 5, X 5 6, - 6 10, Z 10 11");
    waits_expect(&jl, &r, "Y=0 X=2 Z=0");
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_limits(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;
    char err[SCHED_ERR_LEN];

    (void)state;
    sched_params_default(&p);
    p.quantum = 1;
    /* Two long jobs in quantum 1 alternate: 1,200,000 slices. */
    load(&jl, "A 0 600000\nB 0 600000\n");
    assert_int_equal(sched_run(SCHED_RR, &p, &jl, &r), -E2BIG);
    assert_null(r.slices);
    /* SRTF decides at arrivals only: two slices, however long. */
    assert_int_equal(sched_run(SCHED_SRTF, &p, &jl, &r), 0);
    assert_int_equal(r.nslices, 2);
    sched_result_free(&r);
    sched_joblist_free(&jl);

    /* An empty list and bad parameters. */
    sched_joblist_init(&jl);
    assert_int_equal(sched_run(SCHED_FCFS, &p, &jl, &r), -EINVAL);
    p.quantum = 0;
    assert_int_equal(sched_params_check(&p, err, sizeof err), -EINVAL);
    sched_params_default(&p);
    p.quanta[0] = 0; /* FCFS is for the last level only */
    assert_int_equal(sched_params_check(&p, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "queue 0"));
    p.quanta[0] = 4;
    p.levels = SCHED_MAX_LEVELS + 1;
    assert_int_equal(sched_params_check(&p, err, sizeof err), -EINVAL);
}

/* ---- The parser
 * --------------------------------------------------------------- */

static void parse_fails(const char *text, const char *want_err)
{
    char err[SCHED_ERR_LEN] = "";
    sched_joblist jl;

    sched_joblist_init(&jl);
    assert_int_equal(sched_parse(&jl, text, strlen(text), err, sizeof err),
                     -EINVAL);
    if (!strstr(err, want_err))
        fail_msg("input \"%s\": error \"%s\" lacks \"%s\"", text, err,
                 want_err);
    sched_joblist_free(&jl);
}

static void test_parse(void **state)
{
    static const char text[] = "# jobs of the week\n"
                               "\n"
                               "  build\t0   5   2   # nightly\r\n"
                               "test.1 3 2\n"
                               "deploy-x 7 1 -4";
    char err[SCHED_ERR_LEN];
    sched_joblist jl;

    (void)state;
    load(&jl, text);
    assert_int_equal(jl.n, 3);
    assert_string_equal(jl.jobs[0].name, "build");
    assert_int_equal(jl.jobs[0].arrival, 0);
    assert_int_equal(jl.jobs[0].burst, 5);
    assert_true(jl.jobs[0].has_priority);
    assert_int_equal(jl.jobs[0].priority, 2);
    assert_string_equal(jl.jobs[1].name, "test.1");
    assert_false(jl.jobs[1].has_priority);
    assert_int_equal(jl.jobs[1].priority, 0);
    assert_int_equal(jl.jobs[2].priority, -4);
    assert_int_equal(jl.jobs[2].arrival, 7);

    /* The --job form appends to the same list. */
    assert_int_equal(sched_parse_spec(&jl, "late,100,3", err, sizeof err), 0);
    assert_int_equal(jl.n, 4);
    assert_int_equal(jl.jobs[3].arrival, 100);
    assert_int_equal(sched_parse_spec(&jl, "late,1,1", err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(sched_parse_spec(&jl, "x,1", err, sizeof err), -EINVAL);
    assert_int_equal(sched_parse_spec(&jl, "x,1,2,3,4,5,6", err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "got 7 fields"));
    assert_int_equal(sched_parse_spec(&jl, "x,,2", err, sizeof err), -EINVAL);
    assert_int_equal(jl.n, 4);
    sched_joblist_free(&jl);

    /* Errors name the line. */
    parse_fails("A 0 1\nB 0\n", "line 2: expected NAME ARRIVAL BURST");
    parse_fails("A 0 1 1 1\n", "got 5 fields");
    parse_fails("A 0 0\n", "burst must be");
    parse_fails("A -1 3\n", "arrival must be");
    parse_fails("A 1.5 3\n", "arrival must be");
    parse_fails("A 0 3x\n", "burst must be");
    parse_fails("A 0 1000000001\n", "burst must be");
    parse_fails("A 0 99999999999999999999999\n", "burst must be");
    parse_fails("A 0 3 high\n", "priority must be");
    parse_fails("A 0 1\nA 2 2\n", "line 2: job A listed twice");
    parse_fails("a/b 0 1\n", "bad job name");
    parse_fails("abcdefghijklmnopq 0 1\n", "bad job name"); /* 17 */
    parse_fails("caf\xc3\xa9 0 1\n", "bad job name");
    parse_fails("A 0 1\n\n\nB\x01 0 1\n", "line 4: control character");
    {
        static const char nul[] = "A 0 1\nB\0 0 1\n";
        sched_joblist j2;

        sched_joblist_init(&j2);
        assert_int_equal(sched_parse(&j2, nul, sizeof nul - 1, err, sizeof err),
                         -EINVAL);
        assert_non_null(strstr(err, "line 2"));
        sched_joblist_free(&j2);
    }
    /* Only comments: an empty list, not an error. */
    load(&jl, "# nothing\n   \n");
    assert_int_equal(jl.n, 0);
    sched_joblist_free(&jl);
}

static void test_parse_max_jobs(void **state)
{
    char *text = malloc((SCHED_MAX_JOBS + 1) * 16), err[SCHED_ERR_LEN];
    sched_joblist jl;
    size_t off = 0;
    int i;

    (void)state;
    assert_non_null(text);
    for (i = 0; i <= SCHED_MAX_JOBS; i++)
        off += (size_t)snprintf(text + off, 16, "j%d 0 1\n", i);
    sched_joblist_init(&jl);
    assert_int_equal(sched_parse(&jl, text, off, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "line 1001"));
    assert_int_equal(jl.n, SCHED_MAX_JOBS);
    sched_joblist_free(&jl);
    free(text);
}

/* ---- Reports
 * -------------------------------------------------------------------- */

/* The text chart at the given width, in *out (free it). */
static void capture_gantt(const sched_joblist *jl, const sched_result *r,
                          int width, char **out)
{
    size_t len = 0;
    FILE *f = open_memstream(out, &len);

    assert_non_null(f);
    sched_print_gantt(f, jl, r, width);
    fclose(f);
}

static void test_reports(void **state)
{
    sched_joblist jl;
    sched_params p;
    sched_result r;
    sched_stats st;
    char *out = NULL, *line;
    size_t len = 0;
    FILE *f;
    int rects = 0;

    (void)state;
    sched_params_default(&p);
    load(&jl, "P1 0 24\nP2 0 3\nP3 0 3\n");
    assert_int_equal(sched_run(SCHED_RR, &p, &jl, &r), 0);

    /* Text: the boxes, the labels in order, the times under the edges. */
    capture_gantt(&jl, &r, 78, &out);
    line = strchr(out, '\n') + 1;
    assert_memory_equal(line, "|     P1    |    P2   |    P3   |", 33);
    assert_non_null(strstr(out, "\n0           4         7         10"));
    assert_non_null(strstr(out, "30\n"));
    /* Every line fits in the width. */
    for (line = out; *line; line = strchr(line, '\n') + 1)
        assert_true(strchr(line, '\n') - line <= 78);
    free(out);
    /* Narrow: the chart wraps into rows; each row is boxed. */
    capture_gantt(&jl, &r, 20, &out);
    for (line = out; *line; line = strchr(line, '\n') + 1)
        assert_true(strchr(line, '\n') - line <= 20);
    assert_non_null(strstr(out, "\n10"));
    free(out);

    /* The table: one row per job and the averages. */
    assert_int_equal(sched_stats_compute(&jl, &r, &st), 0);
    f = open_memstream(&out, &len);
    sched_print_table(f, &jl, &r, &st);
    fclose(f);
    assert_non_null(strstr(out, "average"));
    assert_non_null(strstr(out, "5.67"));
    assert_non_null(strstr(out, "15.67"));
    free(out);
    sched_stats_free(&st);

    /* SVG: a document with one rect per slice, plus the background. */
    f = open_memstream(&out, &len);
    assert_int_equal(sched_write_svg(f, &jl, &r, 1, &p), 0);
    fclose(f);
    assert_non_null(strstr(out, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(out, "</svg>\n"));
    assert_non_null(strstr(out, "Round robin (quantum 4)"));
    for (line = out; (line = strstr(line, "<rect ")); line++)
        rects++;
    assert_int_equal(rects, (int)r.nslices + 1);
    free(out);
    sched_result_free(&r);
    sched_joblist_free(&jl);
}

static void test_names(void **state)
{
    int a;

    (void)state;
    for (a = 0; a < SCHED_NALGS; a++)
        assert_int_equal(sched_alg_parse(sched_alg_name((sched_alg)a)), a);
    assert_int_equal(sched_alg_parse("lottery"), -1);
    assert_int_equal(sched_alg_parse("all"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fcfs_convoy),
        cmocka_unit_test(test_sjf),
        cmocka_unit_test(test_srtf),
        cmocka_unit_test(test_rr),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_preemptive_priority),
        cmocka_unit_test(test_mlfq_rules),
        cmocka_unit_test(test_mlfq_fcfs_last_level),
        cmocka_unit_test(test_ties_and_idle),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_max_jobs),
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
