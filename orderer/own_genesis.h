/*
 * own_genesis.h — the channel configuration `stele-orderer genesis` writes for a single
 * orderer (solo): the orderer itself as the only orderer, and the organisations it knows.
 *
 * A network of several orderers or organisations gets its genesis block from the network
 * launcher (`stele-network up`, from configs/network.yaml), which lists every organisation.
 */
#ifndef STELE_ORDERER_OWN_GENESIS_H
#define STELE_ORDERER_OWN_GENESIS_H

#include "config.h"

#include "identity/enrolment.h"

#include "stele/channel.pb-c.h"

struct arena;

/* Builds into arena `a` the configuration of the channel `cfg` orders with the orderer `self`
 * (its loaded enrolment) as its only orderer: node id `cfg->node_id`, the organisation of its
 * identity record, its public key and record, its listen address as address; cfg's consensus
 * type and batch parameters; as organisations, the orderer's own (trusting the CA key of its
 * enrolment, ca.pub) and every organisation named by a `membership.cas` entry (trusting that
 * entry's key); no chaincodes; the default lifecycle policy. Returns STELE_OK with *out set,
 * STELE_ERR_CONFIG with *errmsg (malloc'd) when a file cannot be used, or STELE_ERR_NOMEM. */
int own_genesis_config(struct arena *a, const struct orderer_config *cfg,
                       const struct enrolment *self, Stele__ChannelConfig **out, char **errmsg);

#endif
