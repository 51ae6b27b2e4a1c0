/* gateway_client.h — submitting and evaluating transactions through a peer's gateway
 * (stele.Gateway): build and sign the proposal, have the gateway endorse it, sign the
 * prepared payload, submit it and wait for its commit. Shared by `stele invoke`, `stele query`
 * and `stele chaincode approve|commit`. */
#ifndef STELE_TOOLS_GATEWAY_CLIENT_H
#define STELE_TOOLS_GATEWAY_CLIENT_H

#include "peer_client.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

/* What to run. */
struct gw_request {
    const char *chaincode;
    const char *function;
    const ProtobufCBinaryData *args;
    size_t n_args;
    bool wait;           /* wait for the commit */
    unsigned retries;    /* new proposals after an MVCC_READ_CONFLICT */
    uint32_t timeout_ms; /* commit wait (0: the peer's default) */
    const char *prepare; /* gw_submit(): write the signed envelope to this file, do not send */
};

/* What happened. Strings are malloc'd; release with gw_outcome_release(). */
struct gw_outcome {
    bool answered;               /* the chaincode answered: status, message, payload are its */
    int status;                  /* the chaincode's response status */
    char *message;               /* its message */
    ProtobufCBinaryData payload; /* its payload */
    char tx_id[65];      /* the transaction's (as built or read here; never the peer's word) */
    bool submitted;      /* the gateway answered the Submit: orderers, committed, code, block */
    unsigned orderers;   /* orderers that accepted the envelope */
    bool committed;      /* the commit was seen */
    unsigned code;       /* its validation code */
    uint64_t block;      /* its block */
    unsigned attempts;   /* proposals made (1 + MVCC retries) */
    unsigned busy_waits; /* times the gateway was busy (waited 50 ms each) */
    char *endorsers;     /* "a, b" */
};

/* Submits: returns 0 when the chaincode succeeded and (with wait) the transaction committed
 * VALID, CLI_EXIT_REFUSED (printed) when the chaincode refused or the transaction committed
 * with another code, or another exit status with the error printed. *out is filled as far as
 * it got. */
int gw_submit(struct peer_opts *o, const char *prog, const struct gw_request *r,
              struct gw_outcome *out);

/* Evaluates on the peer only: returns 0 with *out (status 200..299), CLI_EXIT_REFUSED when
 * the chaincode answered otherwise, or an exit status with the error printed. */
int gw_evaluate(struct peer_opts *o, const char *prog, const struct gw_request *r,
                struct gw_outcome *out);

/* Submits an envelope signed earlier (`stele invoke --prepare`) and, with `wait`, waits for
 * its commit; returns as gw_submit(). */
int gw_submit_envelope(struct peer_opts *o, const char *prog, const ProtobufCBinaryData *env,
                       bool wait, uint32_t timeout_ms, struct gw_outcome *out);

void gw_outcome_release(struct gw_outcome *out);

#endif
