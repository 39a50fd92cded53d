#define _GNU_SOURCE
#include <fcntl.h>
#include "CSystemShims.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

int strata_start_writeback(int fd, long long offset, long long length) {
#ifdef __linux__
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int strata_set_malloc_thresholds(int mmap_bytes, int trim_bytes) {
#ifdef __GLIBC__
    return mallopt(M_MMAP_THRESHOLD, mmap_bytes) && mallopt(M_TRIM_THRESHOLD, trim_bytes);
#else
    (void)mmap_bytes; (void)trim_bytes;
    return 0;
#endif
}
