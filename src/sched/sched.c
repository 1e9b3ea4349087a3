/* sched.c - weft-sched's job-list parser and scheduling algorithms.
 *
 * One event loop serves every algorithm: admit the arrivals, pick a job,
 * decide how long it may run (to completion, to the end of its quantum,
 * or to the next arrival where an arrival may preempt it), record the
 * slice, admit the arrivals of that interval, then put the job back where
 * its algorithm says. Preemptive algorithms therefore decide only at
 * arrivals and completions, never per time unit, so a list with long
 * bursts costs no more than one with short ones (round robin excepted:
 * one slice per quantum, bounded by SCHED_MAX_SLICES).
 */
#include "sched.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- job lists --------------------------------------------------------- */

void sched_joblist_init(sched_joblist *jl)
{
    jl->jobs = NULL;
    jl->n = 0;
    jl->cap = 0;
}

void sched_joblist_free(sched_joblist *jl)
{
    free(jl->jobs);
    sched_joblist_init(jl);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A whole decimal integer in [lo, hi]: optional '-', digits only. */
static bool parse_int(const char *s, size_t n, int64_t lo, int64_t hi,
                      int64_t *out)
{
    int64_t v = 0;
    bool neg = false;
    size_t i = 0;

    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > SCHED_MAX_TIME * 10) /* far past any limit: stop growing */
            return false;
    }
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > SCHED_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
        if (c >= 0x80) /* isalnum may say yes in some locales */
            return false;
    }
    return true;
}

/* Append one job from its fields. fields[k] points at field k, lens[k] its
 * length; nfields may exceed what the arrays hold (then only the count is
 * used, to refuse the line). Error text without a location; the caller
 * adds it. */
static int add_job(sched_joblist *jl, const char *const *fields,
                   const size_t *lens, int nfields, char *err, size_t errlen)
{
    sched_job j;
    size_t i;

    memset(&j, 0, sizeof j);
    if (nfields < 3 || nfields > 4) {
        seterr(err, errlen,
               "expected NAME ARRIVAL BURST [PRIORITY], got %d field%s",
               nfields, nfields == 1 ? "" : "s");
        return -EINVAL;
    }
    if (!name_ok(fields[0], lens[0])) {
        seterr(err, errlen,
               "bad job name (1-%d characters of A-Z a-z 0-9 _ . -)",
               SCHED_NAME_MAX);
        return -EINVAL;
    }
    memcpy(j.name, fields[0], lens[0]);
    j.name[lens[0]] = '\0';
    if (!parse_int(fields[1], lens[1], 0, SCHED_MAX_TIME, &j.arrival)) {
        seterr(err, errlen, "job %s: arrival must be a whole number 0..%lld",
               j.name, SCHED_MAX_TIME);
        return -EINVAL;
    }
    if (!parse_int(fields[2], lens[2], 1, SCHED_MAX_TIME, &j.burst)) {
        seterr(err, errlen, "job %s: burst must be a whole number 1..%lld",
               j.name, SCHED_MAX_TIME);
        return -EINVAL;
    }
    if (nfields == 4) {
        if (!parse_int(fields[3], lens[3], -SCHED_MAX_TIME, SCHED_MAX_TIME,
                       &j.priority)) {
            seterr(err, errlen,
                   "job %s: priority must be a whole number -%lld..%lld",
                   j.name, SCHED_MAX_TIME, SCHED_MAX_TIME);
            return -EINVAL;
        }
        j.has_priority = true;
    }
    for (i = 0; i < jl->n; i++) {
        if (strcmp(jl->jobs[i].name, j.name) == 0) {
            seterr(err, errlen, "job %s listed twice", j.name);
            return -EINVAL;
        }
    }
    if (jl->n >= SCHED_MAX_JOBS) {
        seterr(err, errlen, "more than %d jobs", SCHED_MAX_JOBS);
        return -E2BIG;
    }
    if (jl->n == jl->cap) {
        size_t cap = jl->cap ? jl->cap * 2 : 16;
        sched_job *nj = realloc(jl->jobs, cap * sizeof *nj);

        if (!nj) {
            seterr(err, errlen, "out of memory");
            return -ENOMEM;
        }
        jl->jobs = nj;
        jl->cap = cap;
    }
    jl->jobs[jl->n++] = j;
    return 0;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int sched_parse(sched_joblist *jl, const char *text, size_t len, char *err,
                size_t errlen)
{
    size_t pos = 0, lineno = 0;

    while (pos < len) {
        const char *fields[5];
        size_t lens[5], end = pos, i;
        char msg[SCHED_ERR_LEN];
        int nf = 0, rc;

        lineno++;
        while (end < len && text[end] != '\n')
            end++;
        /* Split [pos, end) into fields, up to a '#'. A sixth field is
         * kept out of the array; it only makes the count wrong. */
        i = pos;
        while (i < end && text[i] != '#') {
            size_t start;
            unsigned char c = (unsigned char)text[i];

            if (blank(text[i])) {
                i++;
                continue;
            }
            if (c < 0x20 || c == 0x7f) {
                seterr(err, errlen, "line %zu: control character in input",
                       lineno);
                return -EINVAL;
            }
            start = i;
            while (i < end && text[i] != '#' && !blank(text[i]) &&
                   (unsigned char)text[i] >= 0x20 && text[i] != 0x7f)
                i++;
            if (nf < 5) {
                fields[nf] = text + start;
                lens[nf] = i - start;
            }
            nf++;
        }
        if (nf > 0) {
            rc = add_job(jl, fields, lens, nf, msg, sizeof msg);
            if (rc < 0) {
                seterr(err, errlen, "line %zu: %s", lineno, msg);
                return rc;
            }
        }
        pos = end + 1;
    }
    return 0;
}

int sched_parse_spec(sched_joblist *jl, const char *spec, char *err,
                     size_t errlen)
{
    const char *fields[5];
    size_t lens[5];
    const char *s = spec;
    int nf = 0;

    for (;;) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);

        if (nf < 5) {
            fields[nf] = s;
            lens[nf] = n;
        }
        nf++;
        if (!c)
            break;
        s = c + 1;
    }
    return add_job(jl, fields, lens, nf, err, errlen);
}

/* ---- algorithm names and parameters ------------------------------------ */

static const char *const alg_names[SCHED_NALGS] = {
    "fcfs", "sjf", "srtf", "rr", "prio", "pprio", "mlfq",
};
static const char *const alg_titles[SCHED_NALGS] = {
    "First come, first served",
    "Shortest job first (non-preemptive)",
    "Shortest remaining time first (preemptive SJF)",
    "Round robin",
    "Priority (non-preemptive)",
    "Priority (preemptive)",
    "Multi-level feedback queue",
};

int sched_alg_parse(const char *name)
{
    int i;

    for (i = 0; i < SCHED_NALGS; i++)
        if (strcmp(name, alg_names[i]) == 0)
            return i;
    return -1;
}

const char *sched_alg_name(sched_alg alg)
{
    return (unsigned)alg < SCHED_NALGS ? alg_names[alg] : "?";
}

const char *sched_alg_title(sched_alg alg)
{
    return (unsigned)alg < SCHED_NALGS ? alg_titles[alg] : "?";
}

void sched_params_default(sched_params *p)
{
    memset(p, 0, sizeof *p);
    p->quantum = 4;
    p->levels = 3;
    p->quanta[0] = 4;
    p->quanta[1] = 8;
    p->quanta[2] = 16;
}

int sched_params_check(const sched_params *p, char *err, size_t errlen)
{
    int i;

    if (p->quantum < 1 || p->quantum > SCHED_MAX_TIME) {
        seterr(err, errlen, "the quantum must be 1..%lld", SCHED_MAX_TIME);
        return -EINVAL;
    }
    if (p->levels < 1 || p->levels > SCHED_MAX_LEVELS) {
        seterr(err, errlen, "the number of queues must be 1..%d",
               SCHED_MAX_LEVELS);
        return -EINVAL;
    }
    for (i = 0; i < p->levels; i++) {
        if (p->quanta[i] < 0 || p->quanta[i] > SCHED_MAX_TIME ||
            (p->quanta[i] == 0 && i != p->levels - 1)) {
            seterr(err, errlen,
                   "queue %d: quantum must be 1..%lld (0, run to "
                   "completion, only for the last queue)",
                   i, SCHED_MAX_TIME);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- the simulation ------------------------------------------------------ */

/* A FIFO of job indices; a job is in at most one FIFO at a time, so n
 * slots always suffice. */
struct fifo {
    int *v;
    size_t cap, head, len;
};

static void fifo_push(struct fifo *q, int j)
{
    q->v[(q->head + q->len) % q->cap] = j;
    q->len++;
}

static int fifo_pop(struct fifo *q)
{
    int j = q->v[q->head];

    q->head = (q->head + 1) % q->cap;
    q->len--;
    return j;
}

struct sim {
    sched_alg alg;
    const sched_params *p;
    const sched_job *jobs;
    size_t n;
    int *order;    /* job indices by (arrival, input order) */
    size_t next;   /* next job of order[] to arrive */
    int64_t *left; /* remaining burst */
    int *level;    /* MLFQ level */
    bool *ready;   /* in the ready set (SJF, SRTF, priorities) */
    struct fifo q[SCHED_MAX_LEVELS]; /* FCFS, RR, MLFQ queues */
    sched_result *r;
    size_t slice_cap;
};

static const sched_job *sort_jobs; /* qsort has no user pointer */

static int by_arrival(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    if (sort_jobs[x].arrival != sort_jobs[y].arrival)
        return sort_jobs[x].arrival < sort_jobs[y].arrival ? -1 : 1;
    return x < y ? -1 : x > y;
}

static bool uses_fifo(sched_alg alg)
{
    return alg == SCHED_FCFS || alg == SCHED_RR || alg == SCHED_MLFQ;
}

/* Admit every job that has arrived by time t. */
static void admit(struct sim *s, int64_t t)
{
    while (s->next < s->n && s->jobs[s->order[s->next]].arrival <= t) {
        int j = s->order[s->next++];

        if (uses_fifo(s->alg))
            fifo_push(&s->q[0], j);
        else
            s->ready[j] = true;
    }
}

/* The ready job the selection rule prefers; cur (the job that ran last,
 * or -1) wins ties on the key, as preemption needs a strictly better
 * job. Returns -1 if none is ready. */
static int pick_best(const struct sim *s, int cur)
{
    int best = -1;
    size_t j;

    for (j = 0; j < s->n; j++) {
        int64_t kj, kb;

        if (!s->ready[j])
            continue;
        if (best < 0) {
            best = (int)j;
            continue;
        }
        switch (s->alg) {
        case SCHED_SJF:
            kj = s->jobs[j].burst;
            kb = s->jobs[best].burst;
            break;
        case SCHED_SRTF:
            kj = s->left[j];
            kb = s->left[best];
            break;
        default: /* priorities */
            kj = s->jobs[j].priority;
            kb = s->jobs[best].priority;
            break;
        }
        if (kj < kb) {
            best = (int)j;
            continue;
        }
        if (kj > kb || best == cur)
            continue;
        if ((int)j == cur || s->jobs[j].arrival < s->jobs[best].arrival)
            best = (int)j; /* j < best never: j grows, so input order holds */
    }
    return best;
}

/* Record [start, end) for job j at level lv, merging with the previous
 * slice when the same job simply goes on. */
static int add_slice(struct sim *s, int j, int lv, int64_t start, int64_t end)
{
    sched_result *r = s->r;

    if (r->nslices > 0) {
        sched_slice *last = &r->slices[r->nslices - 1];

        if (last->job == j && last->level == lv && last->end == start) {
            last->end = end;
            return 0;
        }
    }
    if (r->nslices >= SCHED_MAX_SLICES)
        return -E2BIG;
    if (r->nslices == s->slice_cap) {
        size_t cap = s->slice_cap ? s->slice_cap * 2 : 64;
        sched_slice *ns = realloc(r->slices, cap * sizeof *ns);

        if (!ns)
            return -ENOMEM;
        r->slices = ns;
        s->slice_cap = cap;
    }
    r->slices[r->nslices++] = (sched_slice){j, lv, start, end};
    return 0;
}

/* The MLFQ: the highest non-empty level, or -1. */
static int top_level(const struct sim *s)
{
    int lv;

    for (lv = 0; lv < s->p->levels; lv++)
        if (s->q[lv].len > 0)
            return lv;
    return -1;
}

static int simulate(struct sim *s)
{
    size_t done = 0;
    int64_t t = 0;
    int cur = -1, rc;

    while (done < s->n) {
        int64_t run, next_arrival = -1;
        int j, lv = 0;

        admit(s, t);
        if (s->next < s->n)
            next_arrival = s->jobs[s->order[s->next]].arrival;

        /* Pick. */
        if (uses_fifo(s->alg)) {
            lv = s->alg == SCHED_MLFQ ? top_level(s) : 0;
            j = lv >= 0 && s->q[lv].len > 0 ? fifo_pop(&s->q[lv]) : -1;
        } else {
            j = pick_best(s, cur);
        }
        if (j < 0) { /* nothing ready: idle until the next arrival */
            rc = add_slice(s, -1, 0, t, next_arrival);
            if (rc < 0)
                return rc;
            t = next_arrival;
            cur = -1;
            continue;
        }

        /* How long it may run before the next decision. */
        run = s->left[j];
        switch (s->alg) {
        case SCHED_RR:
            if (s->p->quantum < run)
                run = s->p->quantum;
            break;
        case SCHED_SRTF:
        case SCHED_PPRIO:
            if (next_arrival >= 0 && next_arrival - t < run)
                run = next_arrival - t;
            break;
        case SCHED_MLFQ:
            if (s->p->quanta[lv] > 0 && s->p->quanta[lv] < run)
                run = s->p->quanta[lv];
            /* A newcomer enters level 0: it preempts any lower level. */
            if (lv > 0 && next_arrival >= 0 && next_arrival - t < run)
                run = next_arrival - t;
            break;
        default:
            break;
        }

        if (s->r->first_run[j] < 0)
            s->r->first_run[j] = t;
        rc = add_slice(s, j, lv, t, t + run);
        if (rc < 0)
            return rc;
        t += run;
        s->left[j] -= run;
        admit(s, t); /* arrivals queue ahead of the job put back below */
        cur = j;

        if (s->left[j] == 0) {
            s->r->finish[j] = t;
            if (!uses_fifo(s->alg))
                s->ready[j] = false;
            done++;
            cur = -1;
            continue;
        }
        if (s->alg == SCHED_RR) {
            fifo_push(&s->q[0], j);
        } else if (s->alg == SCHED_MLFQ) {
            /* Used its whole quantum: one level down. Stopped early by an
             * arrival: the tail of its own level. */
            if (s->p->quanta[lv] > 0 && run == s->p->quanta[lv] &&
                lv + 1 < s->p->levels)
                lv++;
            s->level[j] = lv;
            fifo_push(&s->q[lv], j);
        }
        /* SRTF and preemptive priority: j stays in the ready set and
         * competes again (and keeps the CPU on a tie). */
    }
    return 0;
}

void sched_result_free(sched_result *r)
{
    free(r->slices);
    free(r->first_run);
    free(r->finish);
    memset(r, 0, sizeof *r);
}

int sched_run(sched_alg alg, const sched_params *p, const sched_joblist *jl,
              sched_result *out)
{
    struct sim s;
    size_t i;
    int lv, rc = -ENOMEM;

    memset(out, 0, sizeof *out);
    if ((unsigned)alg >= SCHED_NALGS || jl->n == 0 ||
        sched_params_check(p, NULL, 0) < 0)
        return -EINVAL;
    memset(&s, 0, sizeof s);
    s.alg = alg;
    s.p = p;
    s.jobs = jl->jobs;
    s.n = jl->n;
    s.r = out;
    out->alg = alg;
    out->njobs = jl->n;
    s.order = calloc(s.n, sizeof *s.order);
    s.left = calloc(s.n, sizeof *s.left);
    s.level = calloc(s.n, sizeof *s.level);
    s.ready = calloc(s.n, sizeof *s.ready);
    out->first_run = calloc(s.n, sizeof *out->first_run);
    out->finish = calloc(s.n, sizeof *out->finish);
    if (!s.order || !s.left || !s.level || !s.ready || !out->first_run ||
        !out->finish)
        goto done;
    for (lv = 0; lv < SCHED_MAX_LEVELS; lv++) {
        if (lv > 0 && alg != SCHED_MLFQ)
            break;
        s.q[lv].v = calloc(s.n, sizeof *s.q[lv].v);
        s.q[lv].cap = s.n;
        if (!s.q[lv].v)
            goto done;
    }
    for (i = 0; i < s.n; i++) {
        s.order[i] = (int)i;
        s.left[i] = jl->jobs[i].burst;
        out->first_run[i] = -1;
    }
    sort_jobs = jl->jobs;
    qsort(s.order, s.n, sizeof *s.order, by_arrival);
    sort_jobs = NULL;
    rc = simulate(&s);
done:
    for (lv = 0; lv < SCHED_MAX_LEVELS; lv++)
        free(s.q[lv].v);
    free(s.order);
    free(s.left);
    free(s.level);
    free(s.ready);
    if (rc < 0)
        sched_result_free(out);
    return rc;
}

/* ---- statistics ------------------------------------------------------------
 */

void sched_stats_free(sched_stats *st)
{
    free(st->waiting);
    free(st->turnaround);
    free(st->response);
    memset(st, 0, sizeof *st);
}

int sched_stats_compute(const sched_joblist *jl, const sched_result *r,
                        sched_stats *st)
{
    double w = 0, ta = 0, rs = 0;
    size_t i, n = r->njobs;

    memset(st, 0, sizeof *st);
    st->waiting = calloc(n ? n : 1, sizeof *st->waiting);
    st->turnaround = calloc(n ? n : 1, sizeof *st->turnaround);
    st->response = calloc(n ? n : 1, sizeof *st->response);
    if (!st->waiting || !st->turnaround || !st->response) {
        sched_stats_free(st);
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        const sched_job *j = &jl->jobs[i];

        st->turnaround[i] = r->finish[i] - j->arrival;
        st->waiting[i] = st->turnaround[i] - j->burst;
        st->response[i] = r->first_run[i] - j->arrival;
        w += (double)st->waiting[i];
        ta += (double)st->turnaround[i];
        rs += (double)st->response[i];
    }
    if (n > 0) {
        st->avg_waiting = w / (double)n;
        st->avg_turnaround = ta / (double)n;
        st->avg_response = rs / (double)n;
    }
    return 0;
}
