/*
 * arena.h — per-request memory, freed in one call.
 *
 * An arena hands out aligned blocks from large chunks; nothing is freed individually.
 * arena_destroy() releases everything. Use one arena per RPC call, per block being validated,
 * per parsed config. Not thread-safe: one arena belongs to one thread at a time.
 */
#ifndef STELE_BASE_ARENA_H
#define STELE_BASE_ARENA_H

#include <stddef.h>

struct arena;

/* Creates an arena whose chunks are at least `chunk_size` bytes (0 = 4 KiB). NULL on OOM. */
struct arena *arena_create(size_t chunk_size);
/* Frees every block and the arena. Accepts NULL. */
void arena_destroy(struct arena *a);
/* Frees every block but keeps the first chunk for reuse. */
void arena_reset(struct arena *a);

/* Returns `size` bytes aligned for any type, or NULL on OOM. The memory is not zeroed. */
void *arena_alloc(struct arena *a, size_t size);
/* Like arena_alloc() but zeroed; `n * size` is checked for overflow. */
void *arena_calloc(struct arena *a, size_t n, size_t size);
/* Copies `len` bytes / a C string into the arena. NULL on OOM (or for a NULL string). */
void *arena_memdup(struct arena *a, const void *p, size_t len);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t len);
/* printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Total bytes handed out since creation or the last reset (for limits and metrics). */
size_t arena_used(const struct arena *a);
/* Allocations refused for lack of memory since creation (not those refused for an impossible
 * size). protobuf-c answers an allocation failure as it answers octets that do not decode
 * (NULL): code that must tell the two apart (a validator, whose verdict every peer has to
 * share) compares this count before and after decoding. */
size_t arena_failures(const struct arena *a);

#endif
