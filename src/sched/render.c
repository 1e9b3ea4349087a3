/* render.c - weft-sched's reports: the Gantt chart as text, the per-job
 * table, and the Gantt chart as a standalone SVG image.
 *
 * The text chart gives each slice a width roughly proportional to its
 * length, but never less than its label and the time printed under its
 * right edge need, and wraps at the requested width:
 *
 *     +--------+----+----+
 *     |   P1   | P2 | P3 |
 *     +--------+----+----+
 *     0        24   27   30
 */
#include "sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int digits(int64_t v)
{
    int d = 1;

    if (v < 0) {
        d++;
        v = -v;
    }
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* A slice's label: the job's name ("-" for idle), with its queue for
 * MLFQ ("A:q1"). */
static void slice_label(const sched_joblist *jl, const sched_result *r,
                        const sched_slice *s, char *buf, size_t len)
{
    if (s->job < 0)
        snprintf(buf, len, "-");
    else if (r->alg == SCHED_MLFQ)
        snprintf(buf, len, "%s:q%d", jl->jobs[s->job].name, s->level);
    else
        snprintf(buf, len, "%s", jl->jobs[s->job].name);
}

static void repeat(FILE *f, char c, int n)
{
    while (n-- > 0)
        fputc(c, f);
}

/* One row of the chart: slices [from, to) with their widths. */
static void print_row(FILE *f, const sched_joblist *jl, const sched_result *r,
                      size_t from, size_t to, const int *w)
{
    char label[SCHED_NAME_MAX + 16];
    size_t i;
    int col, edge;

    for (i = from; i < to; i++) {
        fputc('+', f);
        repeat(f, '-', w[i] - 1);
    }
    fputs("+\n", f);
    for (i = from; i < to; i++) {
        int len, pad;

        slice_label(jl, r, &r->slices[i], label, sizeof label);
        len = (int)strlen(label);
        pad = w[i] - 1 - len;
        fputc('|', f);
        repeat(f, ' ', pad - pad / 2);
        fputs(label, f);
        repeat(f, ' ', pad / 2);
    }
    fputs("|\n", f);
    for (i = from; i < to; i++) {
        fputc('+', f);
        repeat(f, '-', w[i] - 1);
    }
    fputs("+\n", f);
    /* The time axis: each number starts under its '|'. A slice is always
     * wider than the number at its right edge, so none overlap. */
    col = fprintf(f, "%lld", (long long)r->slices[from].start);
    edge = 0; /* the column of the current slice's right '|' */
    for (i = from; i < to; i++) {
        edge += w[i];
        repeat(f, ' ', edge - col);
        col = edge + fprintf(f, "%lld", (long long)r->slices[i].end);
    }
    fputc('\n', f);
}

void sched_print_gantt(FILE *f, const sched_joblist *jl, const sched_result *r,
                       int width)
{
    char label[SCHED_NAME_MAX + 16];
    int64_t total;
    double scale;
    size_t i, from;
    int *w, used, spare;

    if (r->nslices == 0)
        return;
    if (width < 20)
        width = 20;
    w = calloc(r->nslices, sizeof *w);
    if (!w)
        return;
    /* Each slice gets what its label and its end time need, and the
     * columns left over are shared in proportion to the slices' lengths
     * (rounded down, so one row holds the whole chart when the minimums
     * fit). */
    total = r->slices[r->nslices - 1].end - r->slices[0].start;
    spare = width - 1;
    for (i = 0; i < r->nslices; i++) {
        const sched_slice *s = &r->slices[i];

        slice_label(jl, r, s, label, sizeof label);
        w[i] = (int)strlen(label) + 3; /* a space each side, and a '|' */
        if (digits(s->end) + 1 > w[i])
            w[i] = digits(s->end) + 1;
        spare -= w[i];
    }
    scale = spare > 0 ? (double)spare / (double)(total > 0 ? total : 1) : 0;
    for (i = 0; i < r->nslices; i++) {
        w[i] += (int)((double)(r->slices[i].end - r->slices[i].start) * scale);
        if (w[i] > width - 1)
            w[i] = width - 1;
    }
    /* Wrap: as many slices per row as fit in width columns. */
    from = 0;
    used = 1;
    for (i = 0; i < r->nslices; i++) {
        if (i > from && used + w[i] > width) {
            print_row(f, jl, r, from, i, w);
            fputc('\n', f);
            from = i;
            used = 1;
        }
        used += w[i];
    }
    print_row(f, jl, r, from, r->nslices, w);
    free(w);
}

void sched_print_table(FILE *f, const sched_joblist *jl, const sched_result *r,
                       const sched_stats *st)
{
    size_t i;
    int nw = 4;

    for (i = 0; i < jl->n; i++)
        if ((int)strlen(jl->jobs[i].name) > nw)
            nw = (int)strlen(jl->jobs[i].name);
    if (nw < 7)
        nw = 7; /* "average" */
    fprintf(f, "%-*s %7s %6s %5s %6s %6s %7s %10s %8s\n", nw, "job", "arrival",
            "burst", "prio", "start", "finish", "waiting", "turnaround",
            "response");
    for (i = 0; i < jl->n; i++) {
        const sched_job *j = &jl->jobs[i];
        char prio[24];

        if (j->has_priority)
            snprintf(prio, sizeof prio, "%lld", (long long)j->priority);
        else
            snprintf(prio, sizeof prio, "-");
        fprintf(f, "%-*s %7lld %6lld %5s %6lld %6lld %7lld %10lld %8lld\n", nw,
                j->name, (long long)j->arrival, (long long)j->burst, prio,
                (long long)r->first_run[i], (long long)r->finish[i],
                (long long)st->waiting[i], (long long)st->turnaround[i],
                (long long)st->response[i]);
    }
    fprintf(f, "%-*s %7s %6s %5s %6s %6s %7.2f %10.2f %8.2f\n", nw, "average",
            "", "", "", "", "", st->avg_waiting, st->avg_turnaround,
            st->avg_response);
}

/* ---- SVG ------------------------------------------------------------------
 */

/* Fill colours by job (input order), repeating; idle is light grey. */
static const char *const palette[] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};

/* Text with XML's five special characters escaped. */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

int sched_write_svg(FILE *f, const sched_joblist *jl, const sched_result *rs,
                    size_t n, const sched_params *p)
{
    const double left = 20, chart_w = 860, bar_h = 32, block_h = 96;
    char label[SCHED_NAME_MAX + 16], title[160];
    int64_t tmax = 1;
    double scale, width = left * 2 + chart_w;
    size_t k, i;

    for (k = 0; k < n; k++)
        if (rs[k].nslices > 0 && rs[k].slices[rs[k].nslices - 1].end > tmax)
            tmax = rs[k].slices[rs[k].nslices - 1].end;
    scale = chart_w / (double)tmax;

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            width, block_h * (double)n + 16, width, block_h * (double)n + 16);
    fprintf(f, "<title>weft-sched Gantt chart</title>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    for (k = 0; k < n; k++) {
        const sched_result *r = &rs[k];
        double y = 16 + block_h * (double)k, last_label = -1e9;

        if (r->alg == SCHED_RR)
            snprintf(title, sizeof title, "%s (quantum %lld)",
                     sched_alg_title(r->alg), (long long)p->quantum);
        else if (r->alg == SCHED_MLFQ)
            snprintf(title, sizeof title, "%s (%d queues)",
                     sched_alg_title(r->alg), p->levels);
        else
            snprintf(title, sizeof title, "%s", sched_alg_title(r->alg));
        fprintf(f, "<g class=\"chart\" id=\"%s\">\n", sched_alg_name(r->alg));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">", left,
                y + 12);
        xml_text(f, title);
        fputs("</text>\n", f);
        for (i = 0; i < r->nslices; i++) {
            const sched_slice *s = &r->slices[i];
            double x = left + (double)s->start * scale;
            double w = (double)(s->end - s->start) * scale;
            const char *fill =
                s->job < 0 ? "#eeeeee"
                           : palette[s->job %
                                     (int)(sizeof palette / sizeof palette[0])];

            fprintf(f,
                    "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                    "height=\"%.0f\" fill=\"%s\" stroke=\"#333333\" "
                    "stroke-width=\"0.5\"><title>",
                    x, y + 22, w, bar_h, fill);
            slice_label(jl, r, s, label, sizeof label);
            xml_text(f, label);
            fprintf(f, " %lld-%lld</title></rect>\n", (long long)s->start,
                    (long long)s->end);
            /* The label inside the bar if it fits (about 7 px a char). */
            if (s->job >= 0 && w >= 7.0 * (double)strlen(label) + 4) {
                fprintf(f,
                        "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\" "
                        "fill=\"white\">",
                        x + w / 2, y + 22 + bar_h / 2 + 4);
                xml_text(f, label);
                fputs("</text>\n", f);
            }
            /* Times under the boundaries, skipping ones that would
             * collide with the previous label. */
            if (i == 0) {
                fprintf(f,
                        "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">"
                        "%lld</text>\n",
                        x, y + 22 + bar_h + 14, (long long)s->start);
                last_label = x;
            }
            if (x + w - last_label >= 7.0 * digits(s->end) + 6) {
                fprintf(f,
                        "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">"
                        "%lld</text>\n",
                        x + w, y + 22 + bar_h + 14, (long long)s->end);
                last_label = x + w;
            }
        }
        fputs("</g>\n", f);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -EIO : 0;
}
