/*
 * statedb_int.h — internals shared by statedb.c (the LevelDB side: open, reads, apply) and
 * statedb_update.c (a block's writes collected in memory).
 */
#ifndef STELE_LEDGER_STATEDB_INT_H
#define STELE_LEDGER_STATEDB_INT_H

#include "ledger/envelope.h"
#include "ledger/statedb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* One write recorded in an update. Everything it points to lives in the update's arena. */
struct sdb_write {
    struct sdb_write *next;            /* the next write in recording order, or NULL */
    const char *ns;                    /* namespace (NUL-terminated) */
    size_t ns_len;                     /* its length, 1..TX_MAX_NAME_LEN */
    const char *key;                   /* key (NUL-terminated) */
    size_t key_len;                    /* its length, 1..TX_MAX_KEY_LEN */
    const uint8_t *value;              /* the value put (NULL for a delete or 0 octets) */
    size_t len;                        /* its length (0 for a delete), <= UINT32_MAX */
    uint32_t tx;                       /* index of the writing transaction in the block */
    bool is_delete;                    /* the write deletes the key */
    bool superseded;                   /* a later write of the same key is in the update */
    char tx_id[ENVELOPE_TXID_LEN + 1]; /* the writing transaction's tx_id */
};

struct statedb_update {
    uint64_t number;         /* block number */
    struct arena *mem;       /* holds every write and its copies */
    struct sdb_write *first; /* writes in recording order */
    struct sdb_write *last;  /* the last of them (NULL when none) */
    size_t n;                /* number of writes */
    void *index;             /* tsearch(3) tree of the newest write of each (ns, key) */
};

/* True for a state key: a non-NULL C string of 1..TX_MAX_KEY_LEN octets; sets *len. */
bool sdb_key_ok(const char *key, size_t *len);

/* True for a namespace: a chaincode name (tx_chaincode_name_ok()); sets *len. */
bool sdb_ns_ok(const char *ns, size_t *len);

#endif
