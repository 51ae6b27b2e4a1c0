/*
 * stub.h — what is behind `stele_cc_stub` (stele/chaincode.h). Not for chaincode authors: the
 * peer's chaincode host and the test harness fill a stub for each invocation, giving the state
 * calls as a const ops struct; shim.c implements the public API on it.
 *
 * Ownership: the filler owns every input pointer for the invocation; the stub owns its results
 * (payload, message, event) and every pointer it hands to the chaincode (freed by
 * stele_cc_stub_release()).
 */
#ifndef STELE_CHAINCODE_SHIM_STUB_H
#define STELE_CHAINCODE_SHIM_STUB_H

#include "stele/chaincode.h"

/* How a stub reaches the state. Returned pointers stay valid until the invocation ends (the
 * implementation keeps them); results are the STELE_CC_* codes. */
struct stele_cc_state_ops {
    /* the value of `key` as committed plus this invocation's writes */
    int (*get)(void *impl, const char *key, const uint8_t **value, size_t *len);
    int (*put)(void *impl, const char *key, const uint8_t *value, size_t len);
    int (*del)(void *impl, const char *key);
    /* an iterator over [start, end) ("" = open), committed plus this invocation's writes */
    int (*range)(void *impl, const char *start, const char *end, void **it);
    /* 1 with an entry, 0 at the end, or STELE_CC_FAILED */
    int (*next)(void *impl, void *it, const char **key, const uint8_t **value, size_t *len);
    void (*close)(void *impl, void *it);
};

/* One allocation handed to the chaincode. */
struct stele_cc_mem {
    struct stele_cc_mem *next;
    char data[];
};

struct stele_cc_stub {
    const struct stele_cc_state_ops *ops;
    void *impl;

    /* the invocation (filled by the caller, only read) */
    const char *function;
    const uint8_t *const *args; /* n_args arguments of arg_lens[i] octets */
    const size_t *arg_lens;
    size_t n_args;
    const char *tx_id;
    uint64_t timestamp_ms;
    const char *creator_id;
    const char *creator_org;
    const char *creator_role;
    uint8_t creator_certhash[32];
    const char *const *attr_keys; /* n_attrs attributes */
    const char *const *attr_values;
    size_t n_attrs;

    /* the results (owned by the stub) */
    int status;       /* what the entry point returned */
    uint8_t *payload; /* stele_cc_success() */
    size_t payload_len;
    char *message;    /* stele_cc_error() */
    char *event_name; /* stele_cc_set_event() */
    uint8_t *event_payload;
    size_t event_len;

    struct stele_cc_mem *mem;    /* memory handed to the chaincode */
    struct stele_cc_iter *iters; /* open iterators */
};

/* Prepares a stub: zeroes the results; the caller then fills the invocation fields. */
void stele_cc_stub_init(stele_cc_stub *stub, const struct stele_cc_state_ops *ops, void *impl);

/* Closes open iterators and frees the results and the memory handed out. */
void stele_cc_stub_release(stele_cc_stub *stub);

/* Calls the entry point of `cc` for the stub's function ("init" goes to cc->init when there
 * is one) and records the status. Returns the status. */
int stele_cc_stub_run(stele_cc_stub *stub, const struct stele_chaincode *cc);

/* True for a valid key: 1..STELE_CC_MAX_KEY octets, and when it starts with 0x1E a
 * well-formed composite key (0x1E type 0x1F (attr 0x1F)*, no part empty or holding 0x1E or
 * 0x1F), as stele/chaincode.h requires. */
bool stele_cc_key_ok(const char *key);

#endif
