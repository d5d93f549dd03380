/* Functions without any CFI (no .cfi_* directives, so no FDE in
 * .eh_frame): an unwinder must stop at their frames, cleanly. */
	.text
	.globl noci_alloc
	.type noci_alloc, @function
noci_alloc:			/* void *noci_alloc(size_t n): malloc(n) */
	subq $8, %rsp
	call malloc@PLT
	addq $8, %rsp
	ret
	.size noci_alloc, .-noci_alloc

	.globl noci_call
	.type noci_call, @function
noci_call:			/* void *noci_call(void *(*fn)(size_t), size_t n): fn(n) */
	subq $8, %rsp
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	addq $8, %rsp
	ret
	.size noci_call, .-noci_call
	.section .note.GNU-stack,"",@progbits

/* void *corrupt_call(void *(*fn)(size_t), size_t n): fn(n) with CFI that
 * lies: it says the CFA is rbp + 16 while rbp holds garbage (0x10), as a
 * corrupted stack would.  The unwinder must stop there, not fault. */
	.text
	.globl corrupt_call
	.type corrupt_call, @function
corrupt_call:
	.cfi_startproc
	pushq %rbp
	.cfi_adjust_cfa_offset 8
	.cfi_offset rbp, -16
	movq $0x10, %rbp
	.cfi_def_cfa rbp, 16
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	leaq 8(%rsp), %rsp
	.cfi_def_cfa rsp, 8
	movq -8(%rsp), %rbp
	.cfi_restore rbp
	ret
	.cfi_endproc
	.size corrupt_call, .-corrupt_call
	.section .note.GNU-stack,"",@progbits
