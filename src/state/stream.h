/* The VM-state stream: a magic and format version, then sections
 * {id, instance, version, length, payload, XXH3-128 checksum}. The writer works on
 * any fd (file or socket); the reader reads sequentially from any fd and
 * treats its input as hostile (lengths bounded, digests checked).
 * Format: docs/SNAPSHOT-FORMAT.md. */
#ifndef TERN_STREAM_H
#define TERN_STREAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMS_MAGIC "TERNSNAP"
#define VMS_FORMAT_VERSION 1
#define VMS_HEADER_LEN 16           /* magic, u32 version, u32 reserved */
#define VMS_SECTION_HDR_LEN 16      /* u32 id, u16 instance, u16 version, u64 length */
#define VMS_DIGEST_LEN 16           /* XXH3-128 of the header and the payload */
#define VMS_MAX_SMALL_SECTION (16u << 20)

/* Section ids. Ids with VMS_ID_OPTIONAL set may be skipped by readers that
 * do not know them; any other unknown id is refused. */
enum {
	VMS_ID_END = 0,
	VMS_ID_CONFIG = 1,      /* JSON: the machine's configuration */
	VMS_ID_MACHINE = 2,     /* guest time, hart count */
	VMS_ID_HART = 3,        /* one per hart; instance = hart id */
	VMS_ID_DEVICE = 4,      /* one per MMIO device; instance = board table index */
	VMS_ID_RAM = 5,         /* bitmap of stored pages, page-aligned RAM image */
	VMS_ID_RAM_BATCH = 6,   /* live migration: a batch of pages (migration/rampages.h) */
	VMS_ID_POSTCOPY = 8,    /* post-copy switch-over: bitmap of pages still on the source */
	VMS_ID_DEVLOG = 7,      /* all devices as write logs + residues (state/devlog.h) */
	VMS_ID_DISKS = 9,       /* storage migration: the disks copied, their bases (migration/blkmig.h) */
	VMS_ID_BLOCK_BATCH = 10, /* storage migration: a batch of disk chunks */
	VMS_ID_OPTIONAL = 0x8000,
	/* after RAM: a digest per 2 MiB chunk of stored pages (state/snap_verify.h) */
	VMS_ID_RAM_CHUNKS = VMS_ID_OPTIONAL | 1,
};

struct vms_section {
	uint32_t id;
	uint16_t instance, version;
	uint64_t len;
	uint64_t payload_off;       /* stream offset of the payload */
};

struct vms_writer {
	int fd;
	bool seekable;              /* holes become lseek, not zeros */
	uint64_t off;               /* bytes of stream so far */
	uint64_t left;              /* payload bytes the open section still needs */
	void *md;                   /* XXH3 state of the open section */
	char err[256];
};

int vms_writer_init(struct vms_writer *w, int fd);
int vms_section_begin(struct vms_writer *w, uint32_t id, uint16_t instance, uint16_t version,
		      uint64_t len);
int vms_section_write(struct vms_writer *w, const void *p, size_t n);
/* n payload bytes of zeros that the digest does not cover (RAM holes). */
int vms_section_hole(struct vms_writer *w, uint64_t n);
int vms_section_end(struct vms_writer *w);
int vms_put_section(struct vms_writer *w, uint32_t id, uint16_t instance, uint16_t version,
		    const void *p, size_t n);
/* END section, then the file is cut at its end (trailing holes). */
int vms_writer_finish(struct vms_writer *w);
void vms_writer_cleanup(struct vms_writer *w);

struct vms_reader {
	int fd;
	bool seekable;
	uint64_t off;
	uint64_t size;              /* file size, or UINT64_MAX for a stream */
	const char *name;           /* for messages */
	char err[256];
};

int vms_reader_init(struct vms_reader *r, int fd, const char *name);
/* Next section header. */
int vms_next(struct vms_reader *r, struct vms_section *s);
/* Reads a small section's payload (malloc'd, caller frees) and checks it. */
int vms_read_payload(struct vms_reader *r, const struct vms_section *s, uint8_t **buf);
/* Skips a payload and its digest unread. */
int vms_skip(struct vms_reader *r, const struct vms_section *s);
/* For large sections read in pieces: a digest over the section header,
 * fed by vms_digest_update, compared with the stored one at the end. */
void *vms_digest_start(const struct vms_section *s);
void vms_digest_update(void *md, const void *p, size_t n);
int vms_digest_check(struct vms_reader *r, void *md, const struct vms_section *s);
/* The same against a digest already read (want); frees md either way. */
int vms_digest_compare(struct vms_reader *r, void *md, const struct vms_section *s,
		       const uint8_t want[VMS_DIGEST_LEN]);
void vms_digest_abort(void *md);
/* Reads n bytes of stream exactly; -1 with r->err set on EOF/error. */
int vms_read(struct vms_reader *r, void *buf, size_t n);
const char *vms_section_name(uint32_t id);
#endif
