#ifndef STRATA_CSYSTEMSHIMS_H
#define STRATA_CSYSTEMSHIMS_H

/// Starts writeback of a file range without waiting for it (Linux sync_file_range with
/// SYNC_FILE_RANGE_WRITE); a no-op returning 0 elsewhere. Glibc declares it only under
/// _GNU_SOURCE, which Swift's Glibc module does not set.
int strata_start_writeback(int fd, long long offset, long long length);

/// Sets glibc's mmap threshold (mallopt M_MMAP_THRESHOLD, which also stops glibc from
/// raising it by itself) and how much free memory at the top of a heap is kept rather
/// than given back (M_TRIM_THRESHOLD); returns 1 on success, 0 elsewhere. Swift's Glibc
/// module does not import malloc.h.
int strata_set_malloc_thresholds(int mmap_bytes, int trim_bytes);

#endif
