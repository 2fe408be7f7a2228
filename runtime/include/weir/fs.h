/*
 * weir/fs.h - the few file-system helpers weir needs (state, output and checkpoint directories).
 * Thread-safe (no shared state); errors are reported through errno.
 */
#ifndef WEIR_FS_H
#define WEIR_FS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Creates directory @p path and its missing parents (mode 0755), like `mkdir -p`.
 *  Returns 0, or -1 with errno set (ENOTDIR when a component is a file, ENAMETOOLONG). */
int weir_mkdirs(const char *path);

/** Removes @p path recursively, like `rm -rf` (a missing path is not an error).
 *  Returns 0, or -1 with errno set by the first failure. Does not follow symbolic links. */
int weir_rmtree(const char *path);

/** Writes all @p n bytes of @p p to @p fd, retrying short writes and EINTR.
 *  Returns 0, or -1 with errno set by the failing write(). */
int weir_write_all(int fd, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
