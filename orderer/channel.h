/*
 * channel.h — what an orderer takes from its channel's configuration (block 0,
 * ledger/genesis.h) at start, and what it refuses.
 *
 * The genesis block is the channel's agreement; orderer.yaml is one node's local settings. So,
 * as an operator of Hyperledger Fabric expects:
 *   - the channel id, the consensus type and the batch parameters come from the genesis block.
 *     orderer.yaml's `channel_id` and `consensus.type` must name the same (a mismatch is
 *     refused: the file is for another channel or network). Its `batch` section is what
 *     `stele-orderer genesis` writes into a new genesis block; at start, a `batch` section
 *     that is written out and differs from the genesis block is refused rather than silently
 *     ignored, and an absent one takes the genesis block's values;
 *   - when the genesis block lists orderers, this orderer must be one of them (its node_id)
 *     holding the public key listed there (its enrolment's key): an orderer does not serve a
 *     channel whose configuration does not name it, nor under another key;
 *   - membership: `membership.cas` in orderer.yaml, when it lists CAs, is the whole trust
 *     store, as before (with its CRLs). When it lists none, the orderer trusts the CA keys of
 *     the genesis block's organisations, each only for identities of its own organisation —
 *     the channel's MSPs, as Fabric orderers use the channel configuration's MSPs.
 */
#ifndef STELE_ORDERER_CHANNEL_H
#define STELE_ORDERER_CHANNEL_H

#include "auth.h"
#include "config.h"
#include "orderer/blockcutter.h"

#include "identity/enrolment.h"

#include "stele/channel.pb-c.h"

/* Checks that the orderer configured by `cfg` with enrolment `self` may serve the channel of
 * `ch` (rules above). Returns STELE_OK, or STELE_ERR_CONFIG with *errmsg (malloc'd) one
 * sentence saying what differs and what to do. */
int orderer_channel_check(const struct orderer_config *cfg, const struct enrolment *self,
                          const Stele__ChannelConfig *ch, char **errmsg);

/* The block cutter's parameters from `ch`'s batch parameters. */
void orderer_channel_cutter(const Stele__ChannelConfig *ch, struct blockcutter_config *out);

/* Trusts the CA keys of `ch`'s organisations in `auth`, each for its organisation. Returns
 * STELE_OK, or STELE_ERR_CONFIG with *errmsg when the genesis block lists no organisation
 * (nobody could broadcast or read), or STELE_ERR_NOMEM. */
int orderer_channel_trust(const Stele__ChannelConfig *ch, struct orderer_auth *auth, char **errmsg);

#endif
