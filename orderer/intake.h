/*
 * intake.h — the checks every envelope passes before the orderer acts on it.
 *
 * Broadcast: the size cap (AbsoluteMaxBytes), the envelope's structure and tx_id
 * (ledger/envelope.h), the channel, the header type (transactions only: ENDORSER_TRANSACTION
 * or ADMIN), then the creator's membership and signature over exactly the payload bytes
 * (auth.h). Deliver: the same for a DELIVER_SEEK_INFO request, which must also be recent. Each
 * refusal is a stele.Status with a sentence a client can act on. Duplicate tx_ids are not judged
 * here: that needs the chain (chain.h).
 *
 * Pure checks over (bytes, len): no state of its own, thread-safe, fuzzed by
 * tests/fuzz/fuzz_envelope.c.
 */
#ifndef STELE_ORDERER_INTAKE_H
#define STELE_ORDERER_INTAKE_H

#include "ledger/envelope.h"
#include "stele/orderer.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct arena;
struct envcache;
struct orderer_auth;

/* What the checks compare against; caller-owned, only read. */
struct intake {
    const char *channel_id;      /* the channel this orderer serves */
    uint64_t absolute_max_bytes; /* largest serialized envelope accepted */
    struct orderer_auth *auth;   /* membership and signatures */
    struct envcache *checked;    /* Broadcast bytes checked before (envcache.h), or NULL */
    uint64_t now_ms; /* Broadcast's wall clock (Unix ms) if not 0, else clock_wall_ms() (fuzzing) */
};

/* The outcome of a check. */
struct intake_verdict {
    Stele__Status status;              /* STELE__STATUS__STATUS_SUCCESS or why not */
    const char *info;                  /* static sentence for a refusal, "" on success */
    char tx_id[ENVELOPE_TXID_LEN + 1]; /* the header's tx_id once it checked out, else "" */
    uint8_t hash[32]; /* intake_check_broadcast_bytes(): SHA-256 of the bytes once decoded */
};

/* Checks a Broadcast envelope already decoded as `env` whose serialized size is `len` octets:
 * size, header, channel, type, a timestamp within ENVELOPE_TIME_WINDOW_MS of the wall
 * clock, the creator's identity now and its signature.
 * On success `view` (may be NULL) holds the opened envelope, living in `a`. Returns
 * STELE_OK when verdict->status is SUCCESS, else the stele status behind the refusal. */
int intake_check_broadcast(const struct intake *in, struct arena *a, const Stele__Envelope *env,
                           size_t len, struct envelope_view *view, struct intake_verdict *v);

/* Like intake_check_broadcast() for `len` raw untrusted octets. With in->checked, bytes that
 * passed before (identical SHA-256, within ENVCACHE_TTL_MS) skip the creator and signature
 * checks, and bytes that pass are recorded. */
int intake_check_broadcast_bytes(const struct intake *in, struct arena *a, const uint8_t *data,
                                 size_t len, struct envelope_view *view, struct intake_verdict *v);

/* How far a Deliver request's header timestamp may be from the orderer's clock, so that a
 * captured request cannot be replayed for long (Fabric's TimeWindow). */
#define INTAKE_DELIVER_WINDOW_MS (15 * 60 * 1000ull)

/* Checks a Deliver request envelope at wall time `now_ms` (Unix milliseconds): the checks
 * above, a DELIVER_SEEK_INFO header whose timestamp is within INTAKE_DELIVER_WINDOW_MS of
 * now_ms, and a payload that decodes as a SeekInfo, into *seek (in `a`); *header (when
 * `header` is not NULL) gets the checked header, whose creator the stream re-checks with
 * orderer_auth_check_identity(). Returns as intake_check_broadcast(). */
int intake_check_deliver(const struct intake *in, struct arena *a, const Stele__Envelope *env,
                         uint64_t now_ms, Stele__SeekInfo **seek, const Stele__Header **header,
                         struct intake_verdict *v);

#endif
