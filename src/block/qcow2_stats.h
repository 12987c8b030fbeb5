/* What an open qcow2 image counts (qcow2_get_stats, block/qcow2.h). */
#ifndef TERN_BLOCK_QCOW2_STATS_H
#define TERN_BLOCK_QCOW2_STATS_H
#include <stdint.h>

struct qcow2_stats {
	uint32_t version;
	uint64_t cluster_size;
	uint64_t l2_hits, l2_misses;
	uint64_t clusters_allocated;
};
#endif
