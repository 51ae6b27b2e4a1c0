/*
 * txvalidate_int.h — shared by txvalidate.c (the validator, its threads, genesis),
 * txvalidate_check.c (checks 1-7 of one transaction) and txvalidate_mvcc.c (checks 8-9 in block
 * order). Not part of the library's interface.
 */
#ifndef STELE_LEDGER_TXVALIDATE_INT_H
#define STELE_LEDGER_TXVALIDATE_INT_H

#include "ledger/tx.h"
#include "ledger/txvalidate.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* One envelope of the block being validated. Pointers live in the arena of the thread that
 * checked it, which is kept until the block is done. */
struct txv_item {
    uint8_t code;            /* the validation code so far */
    bool opened;             /* the transaction opened: tx and tx_id are set */
    const char *tx_id;       /* its header's tx_id (set whenever the header opened) */
    struct tx_view tx;       /* the opened transaction */
    bool lifecycle;          /* it invokes _lifecycle: decided in block order (lifecycle.h) */
    const char *creator_org; /* the verified creator's organisation and role */
    const char *creator_role;
};

/* The block in progress, shared by the threads checking it. */
struct txv_job {
    const char *channel_id;              /* the validator's channel */
    const Stele__ChannelConfig *channel; /* its configuration (NULL: no _lifecycle) */
    struct msp *msp;                     /* trust store */
    struct statedb *db;                  /* the state before the block (only read) */
    struct blockstore *bs;               /* committed tx_ids (only read; set by txv_mvcc_run()) */
    const Stele__Block *block;           /* the block (only read) */
    struct txv_item *items;              /* one per envelope */
    size_t n;                            /* envelopes */
    atomic_size_t next;                  /* next envelope to take */
    atomic_int err;                      /* first error (STELE_ERR_*), 0 while none */
};

/* Runs checks 1-7 on envelopes taken from `job` until none remain, with `a` for decoded
 * parts. Records a failure (NOMEM, IO, ...) in job->err and stops. */
void txv_check_run(struct txv_job *job, struct arena *a);

/* Runs checks 8-9 on every item in block order and records the writes of the VALID ones in
 * `u`. Returns STELE_OK, STELE_ERR_IO, STELE_ERR_MALFORMED, STELE_ERR_NOMEM (or an error of
 * statedb_update_write()) with *errmsg (may be NULL). */
int txv_mvcc_run(struct txv_job *job, struct blockstore *bs, struct statedb_update *u,
                 char **errmsg);

#endif
