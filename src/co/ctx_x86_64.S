/* ctx_x86_64.S - the context switch for x86-64, System V ABI (see
 * ctx_int.h for the contract).
 *
 * A suspended context is its stack pointer; everything else it needs is
 * on its own stack, 64 bytes from the saved sp upwards (sp is 16-byte
 * aligned):
 *
 *     sp+56  return address      (first switch: weft__ctx_trampoline)
 *     sp+48  rbp                 (first switch: 0, ends frame-pointer walks)
 *     sp+40  rbx
 *     sp+32  r12                 (first switch: entry)
 *     sp+24  r13                 (first switch: arg)
 *     sp+16  r14
 *     sp+8   r15
 *     sp+4   x87 control word    (first switch: 0x037F, the ABI default)
 *     sp+6   (padding)
 *     sp+0   MXCSR               (first switch: 0x1F80, the ABI default)
 *
 * Only the callee-saved registers and the floating-point control state
 * are kept: weft__ctx_swap is an ordinary call for the compiler, which has
 * already spilled the caller-saved ones. MXCSR carries the SSE rounding
 * mode, exception masks and sticky flags, the x87 control word the x87
 * rounding mode and precision: fesetround() in one context does not leak
 * into another.
 *
 * Not shadow-stack (CET SHSTK) compatible - a switch returns to another
 * stack - so this file deliberately carries no .note.gnu.property; the
 * linker then leaves SHSTK off for the binary. endbr64 is emitted when the
 * compiler asks for IBT.
 */
#if defined(__x86_64__) && !defined(WEFT_CO_UCONTEXT)

#ifdef __CET__
#define WEFT__ENDBR endbr64
#else
#define WEFT__ENDBR
#endif

    .text

/* void weft__ctx_swap(struct weft__ctx *from, struct weft__ctx *to)
 * rdi = from, rsi = to. */
    .globl  weft__ctx_swap
    .hidden weft__ctx_swap
    .type   weft__ctx_swap, @function
    .p2align 4
weft__ctx_swap:
    .cfi_startproc
    WEFT__ENDBR
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw  4(%rsp)

    /* Switch stacks. Both have the same layout, so the CFI above also
     * describes the frame we are about to unwind. */
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp

    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
    .cfi_endproc
    .size   weft__ctx_swap, .-weft__ctx_swap

/* void weft__ctx_make(struct weft__ctx *c, void *stack, size_t size,
 *                     void (*entry)(void *), void *arg)
 * rdi = c, rsi = stack, rdx = size, rcx = entry, r8 = arg.
 * Lays out the frame above just below the 16-byte aligned top of the
 * stack, so that after the first switch pops it rsp is that top, aligned
 * as at a call site. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, @function
    .p2align 4
weft__ctx_make:
    .cfi_startproc
    WEFT__ENDBR
    leaq    (%rsi,%rdx), %rax
    andq    $-16, %rax
    subq    $64, %rax
    movl    $0x1F80, (%rax)
    movl    $0x037F, 4(%rax)
    movq    $0, 8(%rax)
    movq    $0, 16(%rax)
    movq    %r8, 24(%rax)
    movq    %rcx, 32(%rax)
    movq    $0, 40(%rax)
    movq    $0, 48(%rax)
    leaq    weft__ctx_trampoline(%rip), %rdx
    movq    %rdx, 56(%rax)
    movq    %rax, (%rdi)
    ret
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* Where a new context starts: the first switch "returns" here with
 * r12 = entry, r13 = arg and rsp 16-byte aligned, so the call below
 * enters entry exactly as a compiled call would. entry must not return;
 * if it does, abort. The return address is marked undefined so that
 * unwinders and debuggers stop here. */
    .type   weft__ctx_trampoline, @function
    .p2align 4
weft__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined %rip
    movq    %r13, %rdi
    callq   *%r12
    callq   abort@PLT
    ud2
    .cfi_endproc
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

#endif

/* Outside the #if: even the empty object built on other machines must say
 * that it needs no executable stack. (% works wherever @ starts a
 * comment.) */
#if defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
