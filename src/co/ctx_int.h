/* ctx_int.h - the context switch, the one portability seam of the
 * coroutine module: hand-written assembly for x86-64 (ctx_x86_64.S) and
 * aarch64 (ctx_aarch64.S), ucontext (ctx_ucontext.c) everywhere else or
 * when built with -DWEFT_CO_UCONTEXT=ON.
 *
 * A context is a suspended thread of execution on its own stack. The
 * assembly versions push the callee-saved registers and the floating-point
 * control state (x86-64: rbx, rbp, r12-r15, MXCSR, x87 control word;
 * aarch64: x19-x29, x30, d8-d15, FPCR) on the suspended stack and keep
 * only the stack pointer here. Nothing else is saved: a switch is an
 * ordinary function call for the compiler, so caller-saved registers are
 * already spilled.
 */
#ifndef WEFT_CO_CTX_INT_H
#define WEFT_CO_CTX_INT_H

#include <stddef.h>

#if !defined(WEFT_CO_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))
#define WEFT__CTX_ASM 1
struct weft__ctx {
    void *sp;
};
#else
#include <ucontext.h>
struct weft__ctx {
    ucontext_t uc;
};
#endif

/* Prepare c so that the first switch into it calls entry(arg) on the
 * stack [stack, stack + size), 16-byte aligned as the ABI wants. entry
 * must never return (it switches away for the last time instead). */
void weft__ctx_make(struct weft__ctx *c, void *stack, size_t size,
                    void (*entry)(void *), void *arg);

/* Save the running context in *from and resume *to. Returns when some
 * later switch resumes *from. */
void weft__ctx_swap(struct weft__ctx *from, struct weft__ctx *to);

#endif
