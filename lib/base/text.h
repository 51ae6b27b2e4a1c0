/*
 * text.h — checks on names that come from outside (configuration files, requests) before they
 * go into records, logs and file names.
 */
#ifndef STELE_BASE_TEXT_H
#define STELE_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for a name of 1..max octets with no control characters (below 0x20, or 0x7f) and no
 * space at either end. NULL is not a name. */
bool text_is_name(const char *s, size_t max);

/* The `len` octets at `s` as a decimal number into *v: digits only (no sign, no space, no
 * leading "+"), at least one, no overflow. Returns false, leaving *v alone, otherwise. */
bool text_parse_u64(const char *s, size_t len, uint64_t *v);

#endif
