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

/* The length of the well-formed UTF-8 sequence at `s` (n > 0 octets left): 1..4, or 0 when
 * none starts there (RFC 3629: no overlong form, no surrogate, nothing above U+10FFFF, not cut
 * short). */
size_t text_utf8_len(const unsigned char *s, size_t n);

/* True when the `n` octets at `s` are well-formed UTF-8 (as text_utf8_len() reads it; NUL is
 * a character). */
bool text_utf8_ok(const void *s, size_t n);

#endif
