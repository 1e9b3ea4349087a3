/* test_ctx.c - the context switch on its own (co/ctx_int.h): the same
 * tests pass for the assembly (ctx_x86_64.S, ctx_aarch64.S) and for the
 * ucontext fallback (-DWEFT_CO_UCONTEXT=ON).
 *
 * Checks run inside a context only record what they see; the asserts are
 * made back on the main stack, so a failing cmocka assert never longjmps
 * off a coroutine stack. Stacks are mmap'ed with a guard page below, as
 * the scheduler's are: an overflow is a SIGSEGV, not silent corruption. */
#include <fenv.h>
#include <setjmp.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "co/ctx_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define NOINLINE __attribute__((noinline))

/* ---- stacks ---------------------------------------------------------------
 */

struct stack {
    char *map;       /* the mapping, guard page first */
    size_t map_size; /* its length */
    char *base;      /* lowest usable byte */
    size_t size;     /* usable bytes */
};

static void stack_alloc(struct stack *s, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p;

    size = (size + page - 1) & ~(page - 1);
    p = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p, page, PROT_NONE), 0);
    s->map = p;
    s->map_size = size + page;
    s->base = s->map + page;
    s->size = size;
}

static void stack_free(struct stack *s)
{
#ifdef TEST_ASAN
    /* Contexts left suspended keep their frames' redzones poisoned; clear
     * them so the next mapping at this address starts clean. */
    ASAN_UNPOISON_MEMORY_REGION(s->base, s->size);
#endif
    assert_int_equal(munmap(s->map, s->map_size), 0);
}

static struct weft__ctx main_ctx;

/* ---- ping-pong ------------------------------------------------------------
 */

#define SWITCHES 1000000L
#define NPONG    3

struct pong {
    struct weft__ctx ctx;
    int id;
    long resumed; /* how often this context was resumed */
    long bad;     /* resumptions that saw a wrong counter */
};

static struct pong pongs[NPONG];
static long pong_counter;

/* Star: main resumes each context in turn, each comes straight back. */
static void pong_entry(void *arg)
{
    struct pong *p = arg;

    for (;;) {
        /* main bumps the counter right before it resumes us, and resumes
         * the contexts in order: the counter tells who should run. */
        if ((pong_counter - 1) % NPONG != p->id)
            p->bad++;
        p->resumed++;
        pong_counter += 1000;
        weft__ctx_swap(&p->ctx, &main_ctx);
    }
}

static void test_ping_pong(void **state)
{
    struct stack st[NPONG];
    long i, expect;
    int k;

    (void)state;
    memset(pongs, 0, sizeof pongs);
    for (k = 0; k < NPONG; k++) {
        stack_alloc(&st[k], 64 * 1024);
        pongs[k].id = k;
        weft__ctx_make(&pongs[k].ctx, st[k].base, st[k].size, pong_entry,
                       &pongs[k]);
    }
    /* Each iteration is two switches: there and back. */
    pong_counter = 0;
    for (i = 0; i < SWITCHES / 2; i++) {
        pong_counter = i + 1;
        weft__ctx_swap(&main_ctx, &pongs[i % NPONG].ctx);
        if (pong_counter != i + 1 + 1000)
            break;
        pong_counter = 0;
    }
    assert_int_equal(i, SWITCHES / 2);
    for (k = 0; k < NPONG; k++) {
        expect = SWITCHES / 2 / NPONG + (k < (SWITCHES / 2) % NPONG);
        assert_int_equal(pongs[k].resumed, expect);
        assert_int_equal(pongs[k].bad, 0);
        stack_free(&st[k]);
    }
}

/* Ring: main -> 0 -> 1 -> 2 -> main, contexts switching to each other
 * directly, the counter incremented once per switch. */
static long ring_counter;

static void ring_entry(void *arg)
{
    struct pong *p = arg;
    struct weft__ctx *next;

    next = p->id + 1 < NPONG ? &pongs[p->id + 1].ctx : &main_ctx;
    for (;;) {
        if (ring_counter % (NPONG + 1) != p->id + 1)
            p->bad++;
        p->resumed++;
        ring_counter++;
        weft__ctx_swap(&p->ctx, next);
    }
}

static void test_ring(void **state)
{
    struct stack st[NPONG];
    long rounds = SWITCHES / (NPONG + 1), r;
    int k;

    (void)state;
    memset(pongs, 0, sizeof pongs);
    for (k = 0; k < NPONG; k++) {
        stack_alloc(&st[k], 64 * 1024);
        pongs[k].id = k;
        weft__ctx_make(&pongs[k].ctx, st[k].base, st[k].size, ring_entry,
                       &pongs[k]);
    }
    ring_counter = 0;
    for (r = 0; r < rounds; r++) {
        if (ring_counter != r * (NPONG + 1))
            break;
        ring_counter++;
        weft__ctx_swap(&main_ctx, &pongs[0].ctx);
    }
    assert_int_equal(r, rounds);
    assert_int_equal(ring_counter, rounds * (NPONG + 1));
    for (k = 0; k < NPONG; k++) {
        assert_int_equal(pongs[k].resumed, rounds);
        assert_int_equal(pongs[k].bad, 0);
        stack_free(&st[k]);
    }
}

/* ---- callee-saved registers ------------------------------------------------
 */

/* Read after the switch, so the compiler cannot fold the values below
 * before it: they must stay live across weft__ctx_swap, and at -O2 many
 * of them live in callee-saved registers (integer and, on aarch64, d8-d15)
 * that the other context overwrites with its own. */
static volatile uint64_t salt = 0x9e3779b97f4a7c15u;

#define LIVE_VALUES(seed)                                                      \
    uint64_t v0 = (seed)*3 + 1, v1 = v0 * 0x100000001b3u + 7,                  \
             v2 = v1 ^ (v1 >> 13), v3 = v2 * 5 + v0, v4 = v3 ^ (v3 << 7),      \
             v5 = v4 + v1 * 3, v6 = v5 ^ (v5 >> 17), v7 = v6 * 9 + v2,         \
             v8 = v7 ^ (v7 << 11), v9 = v8 + v3 * 7, v10 = v9 ^ (v9 >> 5),     \
             v11 = v10 * 13 + v4;                                              \
    double d0 = (double)((seed) % 1000) * 0.5, d1 = d0 * 1.25 + 1,             \
           d2 = d1 * d1 - 3, d3 = d2 / 7 + d0, d4 = d3 * 0.75 - d1,            \
           d5 = d4 + d2 * 2, d6 = d5 * 0.125 + d3, d7 = d6 - d4 * 3

#define COMBINE(k)                                                             \
    ((((v0 * (k) + v1) ^ v2) * (k) + (v3 ^ v4) + v5 * (k) + (v6 ^ v7) +        \
      (v8 * (k) ^ v9) + v10 * 31 + v11) ^                                      \
     (uint64_t)(int64_t)(d0 + d1 * 2 + d2 * 3 + d3 * 4 + d4 * 5 + d5 * 6 +     \
                         d6 * 7 + d7 * 8))

static NOINLINE uint64_t live_across_swap(struct weft__ctx *self,
                                          struct weft__ctx *other,
                                          uint64_t seed)
{
    LIVE_VALUES(seed);
    uint64_t k;

    weft__ctx_swap(self, other);
    k = salt;
    return COMBINE(k);
}

static NOINLINE uint64_t live_reference(uint64_t seed)
{
    LIVE_VALUES(seed);
    uint64_t k = salt;

    return COMBINE(k);
}

#define LIVE_ROUNDS 1000

struct live {
    struct weft__ctx ctx;
    long bad;
    long done;
};

static void live_entry(void *arg)
{
    struct live *l = arg;
    uint64_t seed;

    for (seed = 1000;; seed++) {
        if (live_across_swap(&l->ctx, &main_ctx, seed) != live_reference(seed))
            l->bad++;
        l->done++;
    }
}

static void test_callee_saved_live_values(void **state)
{
    struct stack st;
    struct live l = {.bad = 0, .done = 0};
    uint64_t seed;
    long bad = 0;

    (void)state;
    stack_alloc(&st, 64 * 1024);
    weft__ctx_make(&l.ctx, st.base, st.size, live_entry, &l);
    /* Both sides keep their values live across every switch: main's call
     * resumes the context in the middle of its own call, and back. */
    for (seed = 1; seed <= LIVE_ROUNDS; seed++) {
        if (live_across_swap(&main_ctx, &l.ctx, seed) != live_reference(seed))
            bad++;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(l.bad, 0);
    assert_int_equal(l.done, LIVE_ROUNDS - 1);
    stack_free(&st);
}

/* Explicit: load known values into every callee-saved register, switch,
 * and read them back after the other context has loaded its own. */
#if defined(__x86_64__)
#define NREGS 6 /* rbx, r12, r13, r14, r15, rbp */
static void regs_swap(struct weft__ctx *from, struct weft__ctx *to,
                      const uint64_t *in, uint64_t *out)
{
    /* Step below the red zone and align the stack for the call; keep the
     * old rsp, rbp (maybe the frame pointer) and out on the stack. */
    __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                     "movq %%rsp, %%rax\n\t"
                     "andq $-16, %%rsp\n\t"
                     "pushq %%rax\n\t"
                     "pushq %%rbp\n\t"
                     "pushq %%rdx\n\t"
                     "subq $8, %%rsp\n\t"
                     "movq 0(%%rcx), %%rbx\n\t"
                     "movq 8(%%rcx), %%r12\n\t"
                     "movq 16(%%rcx), %%r13\n\t"
                     "movq 24(%%rcx), %%r14\n\t"
                     "movq 32(%%rcx), %%r15\n\t"
                     "movq 40(%%rcx), %%rbp\n\t"
                     "call weft__ctx_swap\n\t"
                     "addq $8, %%rsp\n\t"
                     "popq %%rdx\n\t"
                     "movq %%rbx, 0(%%rdx)\n\t"
                     "movq %%r12, 8(%%rdx)\n\t"
                     "movq %%r13, 16(%%rdx)\n\t"
                     "movq %%r14, 24(%%rdx)\n\t"
                     "movq %%r15, 32(%%rdx)\n\t"
                     "movq %%rbp, 40(%%rdx)\n\t"
                     "popq %%rbp\n\t"
                     "popq %%rsp\n\t"
                     "leaq 128(%%rsp), %%rsp\n\t"
                     : "+D"(from), "+S"(to), "+c"(in), "+d"(out)
                     :
                     : "rax", "r8", "r9", "r10", "r11", "rbx", "r12", "r13",
                       "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
                       "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                       "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}
#elif defined(__aarch64__)
#define NREGS 19 /* x19-x28, d8-d15, x29 */
static void regs_swap(struct weft__ctx *from, struct weft__ctx *to,
                      const uint64_t *in, uint64_t *out)
{
    register struct weft__ctx *x0 __asm__("x0") = from;
    register struct weft__ctx *x1 __asm__("x1") = to;
    register const uint64_t *x2 __asm__("x2") = in;
    register uint64_t *x3 __asm__("x3") = out;

    /* x29 may be the frame pointer: keep it, with out, on the stack. */
    __asm__ volatile(
        "stp x3, x29, [sp, #-16]!\n\t"
        "ldp x19, x20, [x2, #0]\n\t"
        "ldp x21, x22, [x2, #16]\n\t"
        "ldp x23, x24, [x2, #32]\n\t"
        "ldp x25, x26, [x2, #48]\n\t"
        "ldp x27, x28, [x2, #64]\n\t"
        "ldp d8, d9, [x2, #80]\n\t"
        "ldp d10, d11, [x2, #96]\n\t"
        "ldp d12, d13, [x2, #112]\n\t"
        "ldp d14, d15, [x2, #128]\n\t"
        "ldr x29, [x2, #144]\n\t"
        "bl weft__ctx_swap\n\t"
        "ldr x3, [sp]\n\t"
        "stp x19, x20, [x3, #0]\n\t"
        "stp x21, x22, [x3, #16]\n\t"
        "stp x23, x24, [x3, #32]\n\t"
        "stp x25, x26, [x3, #48]\n\t"
        "stp x27, x28, [x3, #64]\n\t"
        "stp d8, d9, [x3, #80]\n\t"
        "stp d10, d11, [x3, #96]\n\t"
        "stp d12, d13, [x3, #112]\n\t"
        "stp d14, d15, [x3, #128]\n\t"
        "str x29, [x3, #144]\n\t"
        "ldp x3, x29, [sp], #16\n\t"
        : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
        :
        : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
          "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24",
          "x25", "x26", "x27", "x28", "x30", "v0", "v1", "v2", "v3", "v4", "v5",
          "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
          "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",
          "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory");
}
#endif

#ifdef NREGS
#define REGS_ROUNDS 1000

struct regs {
    struct weft__ctx ctx;
    long bad;
};

static void regs_fill(uint64_t *v, uint64_t tag, long round)
{
    int i;

    for (i = 0; i < NREGS; i++)
        v[i] = tag ^ ((uint64_t)round << 16) ^ ((uint64_t)i * 0x0101010101u);
}

static void regs_entry(void *arg)
{
    struct regs *r = arg;
    uint64_t in[NREGS], out[NREGS];
    long round;

    for (round = 0;; round++) {
        regs_fill(in, 0xc0c0c0c000000000u, round);
        regs_swap(&r->ctx, &main_ctx, in, out);
        if (memcmp(in, out, sizeof in) != 0)
            r->bad++;
    }
}

static void test_callee_saved_registers(void **state)
{
    struct stack st;
    struct regs r = {.bad = 0};
    uint64_t in[NREGS], out[NREGS];
    long round, bad = 0;

    (void)state;
    stack_alloc(&st, 64 * 1024);
    weft__ctx_make(&r.ctx, st.base, st.size, regs_entry, &r);
    for (round = 0; round < REGS_ROUNDS; round++) {
        regs_fill(in, 0x5a5a5a5a00000000u, round);
        regs_swap(&main_ctx, &r.ctx, in, out);
        if (memcmp(in, out, sizeof in) != 0)
            bad++;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(r.bad, 0);
    stack_free(&st);
}
#endif

/* ---- floating-point control state ------------------------------------------
 */

/* The rounding mode, read and set without libm (tests do not link it):
 * on x86-64 both the SSE (MXCSR) and the x87 (control word) modes, which
 * must agree; on aarch64 FPCR.RMode, whose bits are glibc's FE_ values. */
#if defined(__x86_64__)
static int round_get(void)
{
    unsigned int mxcsr;
    unsigned short cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    if (((mxcsr >> 3) & 0xc00) != (cw & 0xc00u))
        return -1;
    return cw & 0xc00;
}

static void round_set(int mode)
{
    unsigned int mxcsr;
    unsigned short cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    mxcsr = (mxcsr & ~0x6000u) | ((unsigned int)mode << 3);
    cw = (unsigned short)((cw & ~0xc00u) | (unsigned int)mode);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}
#elif defined(__aarch64__)
static int round_get(void)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (int)(fpcr & 0xc00000);
}

static void round_set(int mode)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = (fpcr & ~(uint64_t)0xc00000) | (uint64_t)mode;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#else
/* Elsewhere libm does it (the test then needs -lm). */
static int round_get(void)
{
    return fegetround();
}

static void round_set(int mode)
{
    fesetround(mode);
}
#endif

static volatile double one = 1.0, three = 3.0;

struct fp {
    struct weft__ctx ctx;
    int initial;  /* mode a new context starts with */
    int after;    /* its own mode, after main ran in another */
    double up;    /* 1/3 rounded upwards */
    double again; /* 1/3 after the round trip */
};

static void fp_entry(void *arg)
{
    struct fp *f = arg;

    f->initial = round_get();
    round_set(FE_UPWARD);
    f->up = one / three;
    weft__ctx_swap(&f->ctx, &main_ctx);
    f->after = round_get();
    f->again = one / three;
    for (;;)
        weft__ctx_swap(&f->ctx, &main_ctx);
}

static void test_fp_control_per_context(void **state)
{
    struct stack st;
    struct fp f;
    double near;

    (void)state;
    assert_int_equal(round_get(), FE_TONEAREST);
    near = one / three;
    stack_alloc(&st, 64 * 1024);
    memset(&f, 0, sizeof f);
    weft__ctx_make(&f.ctx, st.base, st.size, fp_entry, &f);
    /* The context sets FE_UPWARD and switches back: main still rounds to
     * nearest. */
    weft__ctx_swap(&main_ctx, &f.ctx);
    assert_int_equal(f.initial, FE_TONEAREST);
    assert_int_equal(round_get(), FE_TONEAREST);
    assert_true(one / three == near);
    assert_true(f.up > near);
    /* Main changes its own mode; the context keeps FE_UPWARD. */
    round_set(FE_DOWNWARD);
    weft__ctx_swap(&main_ctx, &f.ctx);
    assert_int_equal(round_get(), FE_DOWNWARD);
    assert_int_equal(f.after, FE_UPWARD);
    assert_true(f.again == f.up);
    round_set(FE_TONEAREST);
    assert_int_equal(round_get(), FE_TONEAREST);
    stack_free(&st);
}

/* A context made while main rounds to nearest starts so, even when the
 * switch into it comes from a context with another mode. */
static void test_fp_control_fresh_context(void **state)
{
    struct stack st;
    struct fp f;

    (void)state;
    stack_alloc(&st, 64 * 1024);
    memset(&f, 0, sizeof f);
    weft__ctx_make(&f.ctx, st.base, st.size, fp_entry, &f);
    round_set(FE_TOWARDZERO);
    weft__ctx_swap(&main_ctx, &f.ctx);
    assert_int_equal(round_get(), FE_TOWARDZERO);
    round_set(FE_TONEAREST);
    assert_int_equal(f.initial, FE_TONEAREST);
    stack_free(&st);
}

/* ---- stack alignment -------------------------------------------------------
 */

typedef float vec4 __attribute__((vector_size(16)));

struct align {
    struct weft__ctx ctx;
    char *lo, *hi;          /* the stack given to make */
    uintptr_t entry_frame;  /* entry's frame address */
    uintptr_t callee_local; /* address of a 16-aligned local in a callee */
    uintptr_t callee_frame;
    float sum; /* from aligned vector moves */
};

static NOINLINE float aligned_callee(struct align *a)
{
    alignas(16) volatile unsigned char buf[16];
    volatile vec4 v = {1, 2, 3, 4}; /* movaps on x86-64 */
    vec4 w;

    buf[0] = 1;
    a->callee_local = (uintptr_t)buf;
    a->callee_frame = (uintptr_t)__builtin_frame_address(0);
    w = v + v;
    return w[0] + w[1] + w[2] + w[3] + buf[0];
}

static void align_entry(void *arg)
{
    struct align *a = arg;

    a->entry_frame = (uintptr_t)__builtin_frame_address(0);
    a->sum = aligned_callee(a);
    for (;;)
        weft__ctx_swap(&a->ctx, &main_ctx);
}

static void test_stack_alignment(void **state)
{
    struct stack st;
    struct align a;
    size_t off, trim;

    (void)state;
    stack_alloc(&st, 64 * 1024);
    /* Every misalignment of the bottom and of the top of the area: make
     * must round the top down to 16 bytes itself. */
    for (off = 0; off < 16; off++) {
        for (trim = 0; trim < 16; trim++) {
            memset(&a, 0, sizeof a);
            a.lo = st.base + off;
            a.hi = st.base + st.size - trim;
            weft__ctx_make(&a.ctx, a.lo, (size_t)(a.hi - a.lo), align_entry,
                           &a);
            weft__ctx_swap(&main_ctx, &a.ctx);
            assert_true(a.entry_frame % 16 == 0);
            assert_true(a.callee_frame % 16 == 0);
            assert_true(a.callee_local % 16 == 0);
            assert_true(a.sum == 21.0f);
            /* And it ran on the stack it was given. */
            assert_true(a.callee_local > (uintptr_t)a.lo);
            assert_true(a.entry_frame < (uintptr_t)a.hi);
        }
    }
    stack_free(&st);
}

/* ---- deep recursion
 * ----------------------------------------------------------- */

#define DEEP_STACK  (256u * 1024)
#define DEEP_MARGIN (24u * 1024)

struct deep {
    struct weft__ctx ctx;
    uintptr_t lo;      /* bottom of the stack */
    uintptr_t lowest;  /* lowest frame reached */
    size_t depth;      /* deepest level reached */
    long bad;          /* frames whose bytes changed meanwhile */
    uint64_t sum;      /* what the recursion computed */
    int suspended_low; /* it switched away at the bottom */
};

static NOINLINE uint64_t deep_recurse(struct deep *d, size_t n)
{
    volatile unsigned char buf[200];
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    uint64_t s;
    size_t i;

    for (i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(n * 31 + i);
    /* Go down until DEEP_MARGIN above the guard page, whatever the frame
     * size of this build (sanitizers make frames bigger). */
    if (frame - d->lo < DEEP_MARGIN) {
        d->depth = n;
        d->lowest = frame;
        /* Suspend at the bottom: the deep stack must survive main. */
        weft__ctx_swap(&d->ctx, &main_ctx);
        d->suspended_low = 1;
        s = 0;
    } else {
        s = deep_recurse(d, n + 1);
    }
    for (i = 0; i < sizeof buf; i++) {
        if (buf[i] != (unsigned char)(n * 31 + i)) {
            d->bad++;
            break;
        }
    }
    return s + buf[n % sizeof buf] + n;
}

static void deep_entry(void *arg)
{
    struct deep *d = arg;

    d->sum = deep_recurse(d, 0);
    for (;;)
        weft__ctx_swap(&d->ctx, &main_ctx);
}

static void test_deep_recursion(void **state)
{
    struct stack st;
    struct deep d;
    uint64_t expect = 0;
    size_t n;
    volatile unsigned char scribble[4096];

    (void)state;
    stack_alloc(&st, DEEP_STACK);
    memset(&d, 0, sizeof d);
    d.lo = (uintptr_t)st.base;
    weft__ctx_make(&d.ctx, st.base, st.size, deep_entry, &d);
    weft__ctx_swap(&main_ctx, &d.ctx); /* suspended at the bottom */
    assert_int_equal(d.suspended_low, 0);
    /* Use main's own stack meanwhile. */
    memset((void *)scribble, 0xa5, sizeof scribble);
    weft__ctx_swap(&main_ctx, &d.ctx); /* unwound */
    assert_int_equal(d.suspended_low, 1);
    assert_int_equal(d.bad, 0);
    assert_true(d.lowest > d.lo);
    assert_true(d.lo + st.size - d.lowest > DEEP_STACK - DEEP_MARGIN - 4096);
    assert_true(d.depth > 100);
    for (n = 0; n <= d.depth; n++)
        expect += (unsigned char)(n * 31 + n % 200) + n;
    assert_true(d.sum == expect);
    stack_free(&st);
}

/* ---- entry must not return -------------------------------------------------
 */

static void returning_entry(void *arg)
{
    (void)arg;
}

static void test_entry_return_aborts(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct stack st;
        struct weft__ctx c;

        stack_alloc(&st, 64 * 1024);
        weft__ctx_make(&c, st.base, st.size, returning_entry, NULL);
        weft__ctx_swap(&main_ctx, &c);
        _exit(0); /* not reached: the context has no way back */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_callee_saved_live_values),
#ifdef NREGS
        cmocka_unit_test(test_callee_saved_registers),
#endif
        cmocka_unit_test(test_fp_control_per_context),
        cmocka_unit_test(test_fp_control_fresh_context),
        cmocka_unit_test(test_stack_alignment),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_entry_return_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
