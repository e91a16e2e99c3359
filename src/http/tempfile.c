/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tempfile.c — private temporary files (tempfile.h).
 */
#include "core/common.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "http/tempfile.h"

int cpm_temp_file_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] != '/')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/cpm-tmp-XXXXXX", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}
