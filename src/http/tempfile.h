/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tempfile.h — a private temporary file for an answer that outgrows memory
 * (an evidence pack, the audience filter's spool): in $TMPDIR (an absolute
 * path), else /tmp, opened with O_TMPFILE where the file system has it,
 * else made with mkostemp and unlinked at once. No other process can open it; it is gone when
 * closed.
 */
#ifndef CPM_HTTP_TEMPFILE_H
#define CPM_HTTP_TEMPFILE_H

#include "core/common.h"

/* A read-write descriptor of a new unnamed file (owned: close it), or -1 with errno set. */
int cpm_temp_file_open(void);

#endif /* CPM_HTTP_TEMPFILE_H */
