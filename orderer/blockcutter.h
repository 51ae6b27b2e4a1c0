/*
 * blockcutter.h — decides where one block ends and the next begins (Fabric's block cutter).
 *
 * Envelopes enter in consensus order; batches come out. The rules, with the parameters of
 * struct blockcutter_config:
 *   - an envelope larger than preferred_max_bytes is a batch of its own: what was pending is
 *     cut first (one batch), then the envelope alone (a second batch);
 *   - otherwise, when adding it would take the pending batch past preferred_max_bytes, the
 *     pending batch is cut first; the envelope then joins the (new) pending batch, which is
 *     cut as soon as it holds max_message_count envelopes;
 *   - a pending batch is also cut batch_timeout_ms after its first envelope arrived: the
 *     caller asks blockcutter_deadline() when that is and calls blockcutter_tick() then;
 *   - envelopes larger than absolute_max_bytes are refused (Broadcast refuses them earlier,
 *     with a status the client sees; the check here keeps the cutter safe on its own).
 * Sizes are the envelopes' serialized lengths. Time is passed in (monotonic milliseconds), so
 * the cutter is pure logic: no clock, no threads, no locks — one owner at a time.
 */
#ifndef STELE_ORDERER_BLOCKCUTTER_H
#define STELE_ORDERER_BLOCKCUTTER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Batch parameters (Fabric's BatchSize and BatchTimeout). */
struct blockcutter_config {
    uint32_t max_message_count;   /* envelopes per batch, >= 1 */
    uint64_t preferred_max_bytes; /* a batch stays within this many envelope bytes, >= 1 */
    uint64_t absolute_max_bytes;  /* largest envelope accepted, >= preferred_max_bytes */
    uint64_t batch_timeout_ms;    /* cut a pending batch this long after its first envelope,
                                     >= 1 */
};

/* A list of envelopes in order. Cut batches are owned by the caller: free them with
 * blockcutter_batch_release(). */
struct blockcutter_batch {
    ProtobufCBinaryData *envs; /* malloc'd array; each envs[i].data malloc'd */
    size_t n;                  /* envelopes in envs */
    size_t cap;                /* room in envs */
    uint64_t bytes;            /* sum of envs[i].len */
};

/* The cutter's state; caller-owned (blockcutter_init / blockcutter_release). */
struct blockcutter {
    struct blockcutter_config cfg;    /* parameters, checked by blockcutter_init() */
    struct blockcutter_batch pending; /* envelopes not yet cut */
    uint64_t first_at_ms;             /* arrival time of pending.envs[0] (when pending.n > 0) */
};

/* Checks `cfg` and starts an empty cutter. Returns STELE_OK or STELE_ERR_INVALID (a zero
 * parameter, or absolute_max_bytes < preferred_max_bytes). */
int blockcutter_init(struct blockcutter *bc, const struct blockcutter_config *cfg);

/* Frees the pending envelopes. Accepts a zeroed or already released cutter. */
void blockcutter_release(struct blockcutter *bc);

/* Frees a batch's envelopes and array and zeroes it. Accepts a zeroed batch. */
void blockcutter_batch_release(struct blockcutter_batch *b);

/* Adds a copy of the `len` octets at `env` (the cutter does not keep `env`) that arrived at
 * `now_ms`. Cut batches, zero to two, are moved into out[0..*n_out) in chain order; the caller
 * owns them. Returns STELE_OK, STELE_ERR_TOO_BIG (len > absolute_max_bytes or len == 0:
 * nothing changes) or STELE_ERR_NOMEM (nothing changes; *n_out is 0). */
int blockcutter_ordered(struct blockcutter *bc, const uint8_t *env, size_t len, uint64_t now_ms,
                        struct blockcutter_batch out[2], size_t *n_out);

/* True when envelopes are pending; *deadline_ms (may be NULL) is then the time at which the
 * batch timeout cuts them. */
bool blockcutter_deadline(const struct blockcutter *bc, uint64_t *deadline_ms);

/* Cuts the pending batch into *out when its deadline has passed at `now_ms`. Returns true when
 * a batch was cut (the caller owns it), false otherwise (*out untouched). */
bool blockcutter_tick(struct blockcutter *bc, uint64_t now_ms, struct blockcutter_batch *out);

/* Cuts whatever is pending into *out regardless of time. Returns false when nothing was
 * pending. */
bool blockcutter_cut(struct blockcutter *bc, struct blockcutter_batch *out);

/* Number of envelopes pending. */
size_t blockcutter_pending(const struct blockcutter *bc);

#endif
