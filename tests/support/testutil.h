/*
 * testutil.h — helpers shared by Stele's cmocka tests.
 *
 * Tests run from the build directory; STELE_SOURCE_DIR and STELE_BINARY_DIR (set by ctest)
 * locate shipped files and built programs.
 */
#ifndef STELE_TESTUTIL_H
#define STELE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Returns a path under the source tree (static buffer per call site is not kept: the result
 * is malloc'd, free it). */
char *test_source_path(const char *rel);
/* Returns a path of a built file under the binary dir (malloc'd). */
char *test_binary_path(const char *rel);
/* Creates a fresh empty temporary directory and returns its path (malloc'd). */
char *test_tmpdir(const char *tag);
/* Removes a directory tree (rm -rf); ignores errors. */
void test_rmtree(const char *path);
/* Reads a whole file into a malloc'd NUL-terminated buffer; *len gets its size. NULL if absent. */
char *test_read_file(const char *path, size_t *len);
/* Writes `len` bytes to `path` (created or truncated). Returns 0 or -1. */
int test_write_file(const char *path, const void *data, size_t len);

#endif
