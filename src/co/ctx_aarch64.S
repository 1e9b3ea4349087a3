/* ctx_aarch64.S - the context switch for aarch64, AAPCS64 (see ctx_int.h
 * for the contract).
 *
 * A suspended context is its stack pointer; everything else it needs is
 * on its own stack, 176 bytes from the saved sp upwards (sp is 16-byte
 * aligned, as AAPCS64 requires at all times):
 *
 *     sp+168  (padding)
 *     sp+160  FPCR               (first switch: 0, the Linux default)
 *     sp+96   d8 .. d15          (low 64 bits of v8-v15, all AAPCS64 keeps)
 *     sp+88   x30 (lr)           (first switch: weft__ctx_trampoline)
 *     sp+80   x29 (fp)           (first switch: 0, ends frame-pointer walks)
 *     sp+0    x19 .. x28         (first switch: x19 = entry, x20 = arg)
 *
 * Only the callee-saved registers and the floating-point control state
 * are kept: weft__ctx_swap is an ordinary call for the compiler, which has
 * already spilled the caller-saved ones. FPCR carries the rounding mode
 * (and flush-to-zero, default NaN): fesetround() in one context does not
 * leak into another. FPSR, the sticky exception flags, is left shared, as
 * the ABI makes it. Writing FPCR can be slow, so it is written only when
 * it differs.
 *
 * The trampoline is entered by `ret`, which BTI does not check; pointer
 * authentication is not used here (x30 is saved and restored as is).
 */
#if defined(__aarch64__) && !defined(WEFT_CO_UCONTEXT)

    .text

/* void weft__ctx_swap(struct weft__ctx *from, struct weft__ctx *to)
 * x0 = from, x1 = to. */
    .globl  weft__ctx_swap
    .hidden weft__ctx_swap
    .type   weft__ctx_swap, %function
    .p2align 4
weft__ctx_swap:
    .cfi_startproc
    sub     sp, sp, #176
    .cfi_def_cfa_offset 176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    .cfi_offset x19, -176
    .cfi_offset x20, -168
    .cfi_offset x21, -160
    .cfi_offset x22, -152
    .cfi_offset x23, -144
    .cfi_offset x24, -136
    .cfi_offset x25, -128
    .cfi_offset x26, -120
    .cfi_offset x27, -112
    .cfi_offset x28, -104
    .cfi_offset x29, -96
    .cfi_offset x30, -88
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]

    /* Switch stacks. Both have the same layout, so the CFI above also
     * describes the frame we are about to unwind. */
    mov     x10, sp
    str     x10, [x0]
    ldr     x10, [x1]
    mov     sp, x10

    ldr     x10, [sp, #160]
    cmp     x9, x10
    b.eq    1f
    msr     fpcr, x10
1:
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #176
    .cfi_def_cfa_offset 0
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size   weft__ctx_swap, .-weft__ctx_swap

/* void weft__ctx_make(struct weft__ctx *c, void *stack, size_t size,
 *                     void (*entry)(void *), void *arg)
 * x0 = c, x1 = stack, x2 = size, x3 = entry, x4 = arg.
 * Lays out the frame above just below the 16-byte aligned top of the
 * stack, so that after the first switch pops it sp is that top. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, %function
    .p2align 4
weft__ctx_make:
    .cfi_startproc
    add     x9, x1, x2
    and     x9, x9, #~15
    sub     x9, x9, #176
    stp     x3, x4, [x9, #0]
    stp     xzr, xzr, [x9, #16]
    stp     xzr, xzr, [x9, #32]
    stp     xzr, xzr, [x9, #48]
    stp     xzr, xzr, [x9, #64]
    adr     x10, weft__ctx_trampoline
    stp     xzr, x10, [x9, #80]
    stp     xzr, xzr, [x9, #96]
    stp     xzr, xzr, [x9, #112]
    stp     xzr, xzr, [x9, #128]
    stp     xzr, xzr, [x9, #144]
    stp     xzr, xzr, [x9, #160]
    str     x9, [x0]
    ret
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* Where a new context starts: the first switch "returns" here with
 * x19 = entry, x20 = arg, x29 = 0 and sp 16-byte aligned. entry must not
 * return; if it does, abort. The return address is marked undefined so
 * that unwinders and debuggers stop here. */
    .type   weft__ctx_trampoline, %function
    .p2align 4
weft__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20
    blr     x19
    bl      abort
    brk     #0x3e8
    .cfi_endproc
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

#endif

/* Outside the #if: even the empty object built on other machines must say
 * that it needs no executable stack. */
#if defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
