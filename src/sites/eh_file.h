/*
 * The unwinder's CFI read from the object's file (pread) rather than from
 * its mapping.  A byte of the mapping that is read becomes resident, and
 * the kernel maps a whole window around each page faulted in
 * (fault-around: up to 16 pages), so reading .eh_frame_hdr and .eh_frame
 * in place made most of them part of the process's RSS (cc1: 2 MB of its
 * 2.6 MB of unwind tables); pages read by pread are in the page cache,
 * not in the process.
 *
 * Objects: one record per object met in a rule-cache miss (at most
 * AT_EH_OBJECTS; later ones are read in place), keyed by its
 * .eh_frame_hdr's run-time address, made at its first miss:
 *   - its file: the loader's name, /proc/self/exe for the main program;
 *     opened O_RDONLY | O_CLOEXEC and kept open (moved to a descriptor
 *     number of at least AT_EH_FD_MIN when the limit allows, away from the
 *     numbers a program expects open() to give); it is the mapped file
 *     only if its program headers equal the loaded ones byte for byte;
 *   - the PT_LOAD segment holding .eh_frame_hdr, read-only and outside
 *     PT_GNU_RELRO (never relocated: the file's bytes are the memory's),
 *     whose file bytes bound every read;
 *   - the search table's entry count and a sparse index: the start and
 *     FDE offset of every AT_EH_STRIDE-th entry (8 bytes each, in one
 *     mmap'd arena of AT_EH_ARENA bytes that holds the records too, each
 *     record followed by its index), which
 *     bound a stride's FDEs in .eh_frame (ld writes them in the table's
 *     order, as a rule: about 45 bytes each);
 *   - the last two CIEs read (most objects have one to three), each
 *     parsed and its initial instructions run when read, not at each
 *     miss (at_eh_cie_read).
 * Anything else (no file, another file, a writable or relocated segment,
 * more than 64 program headers, the records or the arena full, a CIE
 * longer than 256 bytes or an FDE longer than 1 MiB, a record that lies
 * outside the segment) is read in place as before.  An FDE longer than the
 * 2 KiB buffer is read into a mapping of its own, unmapped after the miss.
 *
 * A miss: its stride's FDEs (from its first FDE to the next stride's, up
 * to 3.5 KiB) read in one piece, scanned for the one whose range holds the
 * address (and the CIE read when neither cached one is it), skipped when
 * the previous miss read the same stride.  When the scan cannot say (FDEs
 * out of the table's order, as a compiler's hot and cold parts leave them;
 * a stride longer than 3.5 KiB; a CIE whose FDE encoding is not ld's
 * pc-relative 4 bytes; an address no FDE covers): the stride's table
 * entries, then the FDE (its own length), each skipped when the previous
 * miss read the same.  These reads go through 16 kept blocks of 1 KiB of
 * the files (least recently used replaced): the blocks a read lacks come
 * by one preadv a run of them, the rest without a system call (a
 * program's misses come back to the functions, strides and CIEs it has
 * met).  A descriptor the program closed or replaced (a
 * read fails, or gives a stop or corrupt record) is checked (fstat: its
 * device and inode) and opened again once; a record whose file
 * no longer matches is read in place from then on.  When the loader
 * reports an object unloaded every record is dropped (its descriptor
 * closed if it is still ours) and made again at the next miss.
 *
 * Callers are serialised by a lock of its own, taken by exchange and never
 * waited for: a miss that finds it taken (another thread's miss, or the
 * one a signal handler interrupted; every miss of a child forked while
 * another thread held it) reads in place; an unload reported meanwhile is
 * done by the next miss to take it.  Never allocates through malloc.
 */
#ifndef AT_EH_FILE_H
#define AT_EH_FILE_H

#include <link.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_EH_OBJECTS 64
#define AT_EH_STRIDE 16u
#define AT_EH_ARENA (256u << 10) /* 8 bytes a stride: 524,288 FDEs in all */
#define AT_EH_FD_MIN 512
/* not read from the file: read the mapping */
#define AT_EH_MEMORY 2

/* The rule of pc (in the object of info, whose .eh_frame_hdr is at hdr)
 * from the object's file: at_eh_rule's results, or AT_EH_MEMORY. */
AT_HIDDEN int at_eh_file_rule(const struct dl_phdr_info *info, const uint8_t *hdr, uintptr_t pc,
			      uint64_t *rule);
/* An object was unloaded: drop every record (now, or at the next miss
 * when one is under way). */
AT_HIDDEN void at_eh_file_forget(void);
/* Objects read from their files so far (tests). */
AT_HIDDEN unsigned int at_eh_file_objects(void);
/* Reads asked of the files so far, a pread or preadv each (tests). */
AT_HIDDEN unsigned long at_eh_file_reads(void);

#endif
