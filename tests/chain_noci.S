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
