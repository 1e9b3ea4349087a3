/* ctx_ucontext.c - the portable context switch: getcontext, makecontext
 * and swapcontext (see ctx_int.h for the contract). Used on machines
 * without a ctx_<arch>.S, and everywhere when built with
 * -DWEFT_CO_UCONTEXT=ON (a reference to compare the assembly against, and
 * a fallback should it misbehave somewhere).
 *
 * It is much slower than the assembly: swapcontext saves and restores the
 * signal mask, a system call each way. It keeps the floating-point
 * environment per context too, but a new context starts with the one of
 * the thread that made it (getcontext time) rather than the ABI default.
 */
#include "co/ctx_int.h"

#ifndef WEFT__CTX_ASM

#include <stdint.h>
#include <stdlib.h>

/* What the new context must call. makecontext passes only int arguments,
 * so this record lives at the top of the new stack and its address goes
 * across as two 32-bit halves - portable whatever the pointer size, and
 * no static or thread-local handoff to race on. */
struct ctx_start {
    void (*entry)(void *);
    void *arg;
};

static void ctx_trampoline(unsigned int hi, unsigned int lo)
{
    uintptr_t p = (uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);
    struct ctx_start *s = (struct ctx_start *)p;

    s->entry(s->arg);
    /* entry must never return; uc_link is NULL, so returning from here
     * would end the whole thread. Fail loudly instead. */
    abort();
}

void weft__ctx_make(struct weft__ctx *c, void *stack, size_t size,
                    void (*entry)(void *), void *arg)
{
    uintptr_t lo = (uintptr_t)stack;
    uintptr_t top = (lo + size - sizeof(struct ctx_start)) & ~(uintptr_t)15;
    struct ctx_start *s = (struct ctx_start *)top;
    uint64_t p = (uint64_t)top;

    s->entry = entry;
    s->arg = arg;
    /* getcontext fails only for an invalid pointer (EFAULT). */
    if (getcontext(&c->uc) != 0)
        abort();
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = top - lo;
    c->uc.uc_stack.ss_flags = 0;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, (void (*)(void))ctx_trampoline, 2,
                (unsigned int)(p >> 32), (unsigned int)(p & 0xffffffffu));
}

void weft__ctx_swap(struct weft__ctx *from, struct weft__ctx *to)
{
    /* swapcontext fails only for invalid pointers or stacks: a broken
     * invariant, not an error a caller could handle. */
    if (swapcontext(&from->uc, &to->uc) != 0)
        abort();
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int weft__ctx_ucontext_unused;

#endif
