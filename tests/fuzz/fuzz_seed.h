/*
 * fuzz_seed.h — writing a fuzz target's seed corpus (fuzz_cchost, fuzz_lifecycle: the seeds
 * are built in C and written by the target itself when its STELE_WRITE_*_SEEDS variable names
 * a directory). A header, not the test support library: fuzz targets link only what they
 * fuzz.
 */
#ifndef STELE_TESTS_FUZZ_SEED_H
#define STELE_TESTS_FUZZ_SEED_H

#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>

/* Writes `b` to DIR/NAME and empties it; exits the process when it cannot. */
static inline void fuzz_write_seed(const char *dir, const char *name, struct buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    buf_clear(b);
}

#endif
