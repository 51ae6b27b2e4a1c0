/*
 * testhook.h — failure switches that test builds (STELE_TEST_HOOKS, on in `make check`) read
 * from the environment, so that a process test can make a daemon fail as a full or broken disk
 * would and see what it does. In other builds every switch is off and costs nothing.
 *
 * Two kinds: one that holds while a file exists (the test creates it to fail the disk and
 * removes it to bring the disk back), and one that fails a given block number.
 */
#ifndef STELE_BASE_TESTHOOK_H
#define STELE_BASE_TESTHOOK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef STELE_TEST_HOOKS
#include <stdlib.h>
#include <unistd.h>
#endif

/* True while the file that environment variable `env` names exists. */
static inline bool test_hook_file(const char *env)
{
#ifdef STELE_TEST_HOOKS
    const char *path = getenv(env);
    return path && *path && access(path, F_OK) == 0;
#else
    (void)env;
    return false;
#endif
}

/* True when environment variable `env` holds the decimal number `n`. */
static inline bool test_hook_at(const char *env, uint64_t n)
{
#ifdef STELE_TEST_HOOKS
    const char *at = getenv(env);
    return at && *at && strtoull(at, NULL, 10) == n;
#else
    (void)env;
    (void)n;
    return false;
#endif
}

#endif
