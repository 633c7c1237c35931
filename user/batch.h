/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICE_BATCH_H
#define SLUICE_BATCH_H

#include <stddef.h>
#include <linux/types.h>

/*
 * Calls fn for every entry of a hash map, read in batches: one syscall per
 * few thousand entries keeps a million-entry map cheap to walk. fn returns
 * 0 to go on or a negative errno to stop with. Entries changed during the
 * walk may be seen or missed, as with any walk of a live map.
 */
int batch__for_each(int fd, size_t key_size, size_t value_size,
		    int (*fn)(const void *key, const void *value, void *arg),
		    void *arg);

/* Sets every CPU's copy of a per-CPU array entry to zero. 0 or -errno. */
int batch__zero_percpu(int fd, __u32 index, size_t value_size);

#endif /* SLUICE_BATCH_H */
