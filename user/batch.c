// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "batch.h"

#define BATCH	4096

int batch__for_each(int fd, size_t key_size, size_t value_size,
		    int (*fn)(const void *key, const void *value, void *arg),
		    void *arg)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	unsigned char *keys = malloc(BATCH * key_size);
	unsigned char *vals = malloc(BATCH * value_size);
	__u64 in = 0, out = 0;
	bool first = true, last = false;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	while (!last) {
		__u32 n = BATCH, i;

		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n,
					 &opts)) {
			if (errno != ENOENT) {
				ret = -errno;
				goto out;
			}
			last = true;
		}
		for (i = 0; i < n; i++) {
			ret = fn(keys + i * key_size, vals + i * value_size, arg);
			if (ret)
				goto out;
		}
		in = out;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

int batch__zero_percpu(int fd, __u32 index, size_t value_size)
{
	int ncpus = libbpf_num_possible_cpus();
	void *zeros;
	int ret = 0;

	if (ncpus < 0)
		return ncpus;
	zeros = calloc(ncpus, value_size);
	if (!zeros)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &index, zeros, BPF_ANY))
		ret = -errno;
	free(zeros);
	return ret;
}
