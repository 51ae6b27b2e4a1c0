/*
 * secret.h — enrolment secrets: generation and salted hashing (stele-ca).
 *
 * Generated secrets are 24 random octets written base64url (32 characters); their entropy makes
 * a slow hash pointless, so they are stored as HMAC-SHA256(salt, secret) and enrolment stays
 * fast. Secrets an administrator chooses are stored with PBKDF2-HMAC-SHA256 and the configured
 * iteration count. Salts are 16 random octets per id; the stored record names its scheme.
 * Secrets themselves are never stored or logged.
 */
#ifndef STELE_CA_SECRET_H
#define STELE_CA_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_SALT_LEN      16
#define SECRET_HASH_LEN      32
#define SECRET_GENERATED_LEN 32 /* characters of a generated secret, without the NUL */
/* A secret an admin chooses (register --secret): 12 to 1024 characters, as text_is_name(). Guesses
 * are limited by attempt_limit and lockout, but a short secret still falls to a few rounds of them;
 * enrol refuses longer ones. */
#define SECRET_CHOSEN_MIN    12
#define SECRET_CHOSEN_MAX    1024
#define SECRET_SCHEME_HMAC   "hmac-sha256"
#define SECRET_SCHEME_PBKDF2 "pbkdf2-sha256"

/* A stored secret hash. */
struct secret_hash {
    const char *scheme;            /* SECRET_SCHEME_* (static string) */
    uint8_t salt[SECRET_SALT_LEN]; /* random per id */
    uint32_t iterations;           /* PBKDF2 iterations; 0 for HMAC */
    uint8_t hash[SECRET_HASH_LEN]; /* the hash */
};

/* Writes a fresh generated secret (32 base64url characters and a NUL). Returns STELE_OK or
 * STELE_ERR_CRYPTO. The caller clears it after use. */
int secret_generate(char out[SECRET_GENERATED_LEN + 1]);

/* Hashes `secret` with a fresh salt: HMAC when `generated`, else PBKDF2 with `iterations`.
 * Returns STELE_OK, STELE_ERR_INVALID (empty secret, 0 iterations) or STELE_ERR_CRYPTO. */
int secret_hash(const char *secret, bool generated, uint32_t iterations, struct secret_hash *out);

/* Recomputes the hash of `secret` under `stored` (scheme, salt, iterations from the record,
 * `salt_len`/`hash_len` untrusted) and compares in constant time. False on any mismatch or
 * unknown scheme. */
bool secret_check(const char *scheme, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                  const uint8_t *hash, size_t hash_len, const char *secret);

/* Spends the time secret_check() takes on a PBKDF2 hash of `iterations` over `secret`, and
 * discards it: what the CA does for an unknown or locked id, so that its answer takes as long
 * as for a wrong secret. */
void secret_check_dummy(uint32_t iterations, const char *secret);

#endif
