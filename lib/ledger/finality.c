/* finality.c — checking a block's finality proof (see finality.h). */
#include "ledger/finality.h"

#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PROOF (1u << 20) /* a solo proof is a few hundred octets */

static int fail(const char **why, const char *reason, int rc)
{
    if (why)
        *why = reason;
    return rc;
}

int finality_init(struct finality *f, const Stele__ChannelConfig *cfg, char **errmsg)
{
    memset(f, 0, sizeof *f);
    const char *type = cfg->consensus_type ? cfg->consensus_type : "";
    if (strcmp(type, "pbft") != 0 && strcmp(type, "solo") != 0)
        return stele_errf(errmsg, STELE_ERR_CONFIG,
                          "consensus type '%s' has no finality check (pbft or solo)", type);
    if (!(f->consensus_type = strdup(type)))
        return STELE_ERR_NOMEM;
    int rc = pbft_members_init(&f->members, cfg);
    if (rc) {
        finality_release(f);
        return stele_errf(errmsg, rc, "the channel configuration's orderer set is unusable: %s",
                          stele_strerror(rc));
    }
    return STELE_OK;
}

void finality_release(struct finality *f)
{
    free(f->consensus_type);
    pbft_members_release(&f->members);
    memset(f, 0, sizeof *f);
}

/* A solo block: signed by the configuration's one orderer. */
static int check_solo(const struct finality *f, struct arena *a, const Stele__Block *b,
                      const uint8_t h[32], const char **why)
{
    const ProtobufCBinaryData *fp = &b->metadata->finality_proof;
    Stele__SoloProof *p = (Stele__SoloProof *)pb_unpack(&stele__solo_proof__descriptor, a, fp->data,
                                                        fp->len, MAX_PROOF);
    if (!p)
        return fail(why, "finality proof does not decode as stele.SoloProof", STELE_ERR_MALFORMED);
    int i = pbft_members_find(&f->members, p->node_id ? p->node_id : "");
    if (i < 0)
        return fail(why, "solo proof is signed by no orderer of the channel", STELE_ERR_PERMISSION);
    struct crypto_key *k = NULL;
    int rc = crypto_key_from_public(p->public_key.data, p->public_key.len, &k);
    if (rc)
        return fail(why, "solo proof's public key does not decode", STELE_ERR_MALFORMED);
    bool same = crypto_key_public_equal(k, f->members.keys[i]);
    crypto_key_destroy(k);
    if (!same)
        return fail(why, "solo proof's key is not the configured key of its orderer",
                    STELE_ERR_PERMISSION);
    rc = crypto_verify_digest(f->members.keys[i], h, p->signature.data, p->signature.len);
    if (rc == STELE_ERR_AUTH || rc == STELE_ERR_MALFORMED)
        return fail(why, "solo proof's signature does not verify", STELE_ERR_AUTH);
    return rc ? fail(why, "cannot verify the solo proof", rc) : STELE_OK;
}

int finality_check(const struct finality *f, struct arena *a, const Stele__Block *b,
                   uint8_t hash[32], const char **why)
{
    uint8_t h[32];
    if (!b->header || !b->data || !b->metadata)
        return fail(why, "block lacks its header, data or metadata", STELE_ERR_MALFORMED);
    if (strcmp(f->consensus_type, "pbft") == 0)
        return pbft_block_check(&f->members, a, b, hash, why);
    if (strcmp(b->metadata->consensus_type, f->consensus_type) != 0)
        return fail(why, "block was not ordered by the channel's consensus", STELE_ERR_CONFLICT);
    if (strcmp(b->metadata->channel_id, f->members.channel_id) != 0)
        return fail(why, "block belongs to another channel", STELE_ERR_PERMISSION);
    int rc = blockhash_header_pb(b->header, h);
    if (rc)
        return fail(why, "cannot hash the block header", rc);
    if ((rc = check_solo(f, a, b, h, why)))
        return rc;
    /* after the signature: hashing every envelope is only worth it for a signed header */
    if (blockhash_check_data(b) != STELE_OK)
        return fail(why, "block data hash is not the Merkle root of its envelopes",
                    STELE_ERR_MALFORMED);
    if (hash)
        memcpy(hash, h, 32);
    return STELE_OK;
}
