/*
 * netgenesis.h — the genesis block of a network `stele-network up` starts, built from its
 * description (netconfig.h) once every identity is enrolled.
 *
 * The channel configuration it carries (ledger/genesis.h): every organisation of
 * `organisations` trusting the network's CA key, with its admin; every orderer of `orderers`
 * in order, with the organisation of its identity, its public key and identity record (from
 * DIR/ids/<id>/) and its listen address; the consensus type and, under pbft, its parameters;
 * the batch parameters; the chaincode definitions of `channel.chaincodes`; the lifecycle
 * policy. It is signed by the admin of the first orderer's organisation (`admin.orderers` in
 * the shipped network), or by the first orderer when that organisation has no admin.
 */
#ifndef STELE_TOOLS_NETGENESIS_H
#define STELE_TOOLS_NETGENESIS_H

#include "netconfig.h"

/* Builds the genesis block of `nc` from the enrolments under `dir`/ids, trusting `ca_pub` (33
 * octets, the network CA's compressed key), and writes it to `out_path`. Returns STELE_OK, or
 * an error with *errmsg (malloc'd) saying what could not be read or which rule the
 * configuration breaks. */
int netgenesis_write(const struct netconfig *nc, const char *dir, const uint8_t ca_pub[33],
                     const char *out_path, char **errmsg);

#endif
