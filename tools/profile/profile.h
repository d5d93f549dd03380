/*
 * A raw profile in memory (docs/PROFILE_FORMAT.md), as read by
 * profile_read().  Maps keep their ids as indexes (maps[i].id == i); a
 * frame's map is an index into maps, or -1 for an address in no object
 * (then addr is absolute).  Strings are owned by the profile.
 */
#ifndef ALLOCTAG_TOOL_PROFILE_H
#define ALLOCTAG_TOOL_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#define PROFILE_VERSION 1

struct prof_map {
	uint64_t start, end, offset, bias; /* run-time address = bias + file address */
	char *build_id;                    /* hex, or NULL when the object has none */
	char *path;
};

struct prof_frame {
	int map;       /* index in maps, -1: none */
	uint64_t addr; /* return address as an address of the object's file */
};

struct prof_chain {
	int64_t live_bytes, live_calls, alloc_bytes, alloc_calls;
	unsigned int site; /* 1-based index of the site frame, 0: none */
	unsigned int nr_frames;
	struct prof_frame *frames; /* innermost first */
};

struct prof_tag {
	int64_t live_bytes, live_calls, alloc_bytes, alloc_calls;
	char *module; /* NULL for the main executable's tags */
	char *file;
	unsigned int line;
	char *func;
	char *extra; /* " key:value ..." pairs after the name, or "" */
};

struct profile {
	char *path; /* the file read */
	long pid;   /* -1 if not recorded */
	char *exe, *time, *store;
	unsigned int depth;
	/* the call-chain table of the profiled process: chains made and the
	 * bytes the table and its records take (the "chains" record); -1 if
	 * not recorded */
	int64_t nr_runtime_chains, chain_memory;
	struct prof_map *maps;
	size_t nr_maps;
	struct prof_chain *chains;
	size_t nr_chains;
	struct prof_tag *tags;
	size_t nr_tags;
	struct live_records *live; /* peak and series (tools/live/records.h); NULL if none */
};

/*
 * Read a profile file.  0, or -1 after one "alloctag: FILE: ..." line on
 * stderr (empty, not a profile, unsupported version, a malformed record,
 * an undeclared map, truncated).
 */
int profile_read(const char *path, struct profile *p);
/* A whole file in a malloc'd buffer (*len bytes), or NULL after one
 * "alloctag: PATH: cannot open/read" line. */
char *profile_slurp(const char *path, size_t *len);
/* Parse profile text held in memory (len bytes); name is used in messages. */
int profile_parse(const char *name, const char *text, size_t len, struct profile *p);
void profile_free(struct profile *p);

/* An allocinfo 2.0 text as a profile of tags only (allocinfo_read.c). */
int profile_parse_allocinfo(const char *name, const char *text, size_t len, struct profile *p);
/* Read a file that is either a raw profile or an allocinfo text. */
int profile_read_any(const char *path, struct profile *p);

/* Split "file:line func:name[ key:value...]" into a tag's fields; 0 or -1. */
int profile_parse_tag_name(const char *s, struct prof_tag *t);

#endif
