/*
 * genesis.h — the genesis block of a channel and the channel configuration it carries.
 *
 * Block 0 holds exactly one envelope, of header type CONFIG, whose payload data is a serialized
 * stele.ChannelConfig (proto/stele/channel.proto): the organisations and the CA keys each
 * trusts, the orderers (node id, organisation, public key, identity record, address) in order,
 * the consensus type and its parameters, the batch parameters, the chaincode definitions the
 * channel starts with and the lifecycle policy. It is signed by whoever builds it — the network
 * launcher signs with the admin of the orderers' organisation, `stele-orderer genesis` with the
 * orderer's own key — with that identity record as the envelope's creator. Its metadata names
 * the channel and carries no finality proof: a network trusts its genesis block by
 * configuration (every orderer is given the same file; a store whose block 0 differs is
 * refused), so the signature says who wrote it, not that anyone agreed.
 *
 * What genesis_check() requires of a configuration, each refusal a sentence naming the entry:
 *   - channel_id, consensus_type, organisation names, admins, orderer node ids, chaincode
 *     names and versions are 1..GENESIS_MAX_NAME octets without control characters or
 *     surrounding spaces; endorsement policies and lifecycle_policy are
 *     1..GENESIS_MAX_POLICY octets without control characters;
 *   - batch: every parameter non-zero and within the YAML bounds (ledger/batch_config.h),
 *     preferred_max_bytes <= absolute_max_bytes;
 *   - organisations: names unique, each with 1..GENESIS_MAX_CA_KEYS CA keys, each a valid
 *     33-octet SEC 1 compressed P-256 point;
 *   - orderers: node ids unique, organisation one of the organisations, public key a valid
 *     33-octet compressed point, address host:port (a DNS name, IPv4 or [IPv6] host);
 *   - "solo": at most one orderer; "pbft": n >= 4 orderers (n >= 3f+1 with f >= 1), every
 *     address with a non-zero port, parameters present with checkpoint_interval K > 0,
 *     log_window a positive multiple of K, request and view-change timeouts > 0 and
 *     view_change_timeout_max_ms >= view_change_timeout_ms. Other types are not judged here
 *     (the orderer refuses a type it has no plug-in for);
 *   - chaincodes: names unique, sequence >= 1, package_hash 32 octets;
 *   - counts capped (GENESIS_MAX_*), so a hostile configuration cannot make a reader work hard.
 * genesis_read() adds what makes a block a genesis block (see there).
 *
 * Nothing here keeps state; every function is thread-safe.
 */
#ifndef STELE_LEDGER_GENESIS_H
#define STELE_LEDGER_GENESIS_H

#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;
struct crypto_key;

#define GENESIS_MAX_BLOCK_LEN  (8u << 20) /* a serialized genesis block */
#define GENESIS_MAX_NAME       128        /* octets of a name (ids, organisations, channel) */
#define GENESIS_MAX_POLICY     4096       /* octets of a policy expression */
#define GENESIS_MAX_ORGS       256        /* organisations */
#define GENESIS_MAX_CA_KEYS    16         /* CA keys of one organisation */
#define GENESIS_MAX_ADMINS     256        /* admins listed for one organisation */
#define GENESIS_MAX_ORDERERS   256        /* orderers */
#define GENESIS_MAX_CHAINCODES 1024       /* chaincode definitions */

/* Who may commit a chaincode definition when nothing else is said: admins of more than half of
 * the organisations approve the same definition. */
#define GENESIS_DEFAULT_LIFECYCLE_POLICY "MAJORITY Admins"

/* Checks `cfg` (only read) against the rules above. Returns STELE_OK, or STELE_ERR_INVALID
 * with *errmsg (malloc'd, the caller frees; `errmsg` may be NULL) saying which entry breaks
 * which rule, or STELE_ERR_NOMEM. */
int genesis_check(const Stele__ChannelConfig *cfg, char **errmsg);

/* The rules for a block 0 being built: genesis_check(), and that every chaincode definition's
 * endorsement policy parses and names only the channel's organisations
 * (lifecycle_policy_check()). Loading a block 0 checks genesis_check() only, so that blocks
 * built before this rule keep loading. Same results as genesis_check(). */
int genesis_check_build(const Stele__ChannelConfig *cfg, char **errmsg);

/* Builds block 0 carrying `cfg` (only read; it must pass genesis_check_build() and have sequence
 * 0) and appends the serialized Block to `out` (caller-owned). The CONFIG envelope is signed
 * with `signer`; `creator` (creator_len octets) is the signer's serialized identity record.
 * The header and block time is `timestamp_ms` (0: now). Returns STELE_OK, STELE_ERR_INVALID
 * with *errmsg (malloc'd, may be NULL) when the configuration breaks a rule, STELE_ERR_NOMEM
 * or STELE_ERR_CRYPTO. `out` is unchanged on failure. */
int genesis_build(const Stele__ChannelConfig *cfg, const struct crypto_key *signer,
                  const uint8_t *creator, size_t creator_len, uint64_t timestamp_ms,
                  struct buf *out, char **errmsg);

/* Reads the channel configuration out of a decoded block 0 (`block`, untrusted, only read)
 * after checking that it is a genesis block: a header with number 0, a previous_hash of 32
 * zero octets and a data hash that matches its envelopes; exactly one envelope, well formed
 * (ledger/envelope.h), of type CONFIG; payload data that decodes as a ChannelConfig of
 * sequence 0 passing genesis_check(); the envelope header and the block metadata naming the
 * configuration's channel; and, when `channel_id` is not NULL, that channel being
 * `channel_id`. The envelope's signature is not checked (see above). On success *out points
 * to the configuration, decoded into arena `a` (it lives as long as the arena; the block may
 * go). Returns STELE_OK; STELE_ERR_MALFORMED (not a genesis block) or STELE_ERR_INVALID (a rule
 * broken, or another channel), each with *errmsg (malloc'd, may be NULL) a sentence; or
 * STELE_ERR_NOMEM. */
int genesis_read(struct arena *a, const Stele__Block *block, const char *channel_id,
                 Stele__ChannelConfig **out, char **errmsg);

/* Like genesis_read() on the `len` untrusted octets at `data` (a serialized Block, at most
 * GENESIS_MAX_BLOCK_LEN). The decoded block goes to *block when `block` is not NULL; it and
 * the configuration live in `a`. This is the fuzzed entry point. */
int genesis_read_bytes(struct arena *a, const uint8_t *data, size_t len, const char *channel_id,
                       const Stele__Block **block, Stele__ChannelConfig **out, char **errmsg);

/* The orderer of `cfg` whose node id is `node_id`, or NULL. */
const Stele__OrdererNodeConfig *genesis_find_orderer(const Stele__ChannelConfig *cfg,
                                                     const char *node_id);

/* The organisation of `cfg` named `name`, or NULL. */
const Stele__OrganisationConfig *genesis_find_org(const Stele__ChannelConfig *cfg,
                                                  const char *name);

#endif
