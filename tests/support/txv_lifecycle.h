/*
 * txv_lifecycle.h — builders of `_lifecycle` transactions for the validator's tests (check 10
 * of lib/ledger/txvalidate.h), on the fixture of txv_fixture.h: a serialized chaincode
 * definition, and an approve or commit whose read/write set is what lib/ledger/lifecycle.h
 * says the function writes, or departs from it on purpose.
 */
#ifndef STELE_TXV_LIFECYCLE_H
#define STELE_TXV_LIFECYCLE_H

#include "txv_fixture.h"

/* The serialized definition of chaincode `name`. */
static inline ProtobufCBinaryData txv_definition(struct txv_fx *fx, const char *name,
                                                 const char *version, uint64_t seq,
                                                 const char *policy)
{
    Stele__ChaincodeDefinition d = STELE__CHAINCODE_DEFINITION__INIT;
    uint8_t hash[32];
    memset(hash, 0x5c, sizeof hash);
    d.name = (char *)name;
    d.version = (char *)version;
    d.sequence = seq;
    d.package_hash = (ProtobufCBinaryData){32, hash};
    d.endorsement_policy = (char *)policy;
    size_t len;
    uint8_t *bytes = pb_pack(&d.base, &len);
    assert_non_null(bytes);
    ProtobufCBinaryData kept = txv_keep(fx, bytes, len);
    free(bytes);
    return kept;
}

/* How txv_lifecycle_tx() departs from what the rules write. */
enum {
    LC_NO_READ = 1,     /* the read of definition/<name> is left out */
    LC_OTHER_ORG = 2,   /* approve: the approval is written for the other organisation */
    LC_OTHER_VALUE = 4, /* commit: the definition is written with its version changed */
};

/* A _lifecycle transaction calling `function` ("approve" or "commit") with definition `def`,
 * created by `admin` (an identity of Org1 or Org2) and endorsed by peer1, whose read/write set
 * is what lifecycle.h says the function writes, unless `flags` say otherwise. */
static inline ProtobufCBinaryData txv_lifecycle_tx(struct txv_fx *fx,
                                                   const struct test_identity *admin,
                                                   const char *function, ProtobufCBinaryData def,
                                                   unsigned flags)
{
    struct arena *a = fx->a;
    struct lifecycle_def ld;
    struct identity id;
    assert_int_equal(lifecycle_definition_open(a, def.data, def.len, &ld, NULL), STELE_OK);
    assert_int_equal(identity_decode(a, admin->record->data, admin->record->len, &id, NULL),
                     STELE_OK);
    const char *org = id.org;
    if (flags & LC_OTHER_ORG)
        org = strcmp(org, "Org1") == 0 ? "Org2" : "Org1";
    char *dkey = lifecycle_definition_key(a, ld.def->name);
    Stele__TxRwSet *rw = txv_rw(a, LIFECYCLE_NS);
    struct statedb_version ver;
    if (!(flags & LC_NO_READ)) {
        if (statedb_get(fx->db, LIFECYCLE_NS, dkey, NULL, &ver) == STELE_OK)
            txv_rw_read(a, rw, dkey, ver.block, ver.tx);
        else
            txv_rw_read_absent(a, rw, dkey);
    }
    if (strcmp(function, "approve") == 0) {
        char hx[65];
        hex_encode(ld.hash, 32, hx);
        txv_rw_write(a, rw, lifecycle_approval_key(a, ld.def->name, ld.def->sequence, org), hx);
    } else {
        ProtobufCBinaryData value = ld.canonical;
        if (flags & LC_OTHER_VALUE)
            value = txv_definition(fx, ld.def->name, "9.9", ld.def->sequence,
                                   ld.def->endorsement_policy);
        txv_rw_write(a, rw, dkey, "");
        txv_last_ns(rw)->writes[0]->value = value;
    }
    ProtobufCBinaryData *args = arena_alloc(a, sizeof *args);
    assert_non_null(args);
    *args = def;
    return txv_build(fx,
                     &(struct txv_tx){.creator = admin,
                                      .chaincode = LIFECYCLE_NS,
                                      .function = function,
                                      .args = args,
                                      .n_args = 1,
                                      .rwset = rw,
                                      .endorsers = {&fx->peer1},
                                      .n_endorsers = 1},
                     NULL);
}

#endif
