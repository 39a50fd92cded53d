#ifndef STRATA_CSYSTEMSHIMS_H
#define STRATA_CSYSTEMSHIMS_H

/// Starts writeback of a file range without waiting for it (Linux sync_file_range with
/// SYNC_FILE_RANGE_WRITE); a no-op returning 0 elsewhere. Glibc declares it only under
/// _GNU_SOURCE, which Swift's Glibc module does not set.
int strata_start_writeback(int fd, long long offset, long long length);

#endif
