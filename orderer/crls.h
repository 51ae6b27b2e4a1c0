/* crls.h — the CRLs the channel's blocks carry, installed in the orderer's membership checks
 * (crls.c). */
#ifndef STELE_ORDERER_CRLS_H
#define STELE_ORDERER_CRLS_H

#include "stele/block.pb-c.h"

struct orderer;

/* At start, after the chain and the membership checks are open: installs the CRLs kept in
 * DATA_DIR/crls/ and those of the blocks appended since they were last written. Returns
 * STELE_OK, or an error with *errmsg (malloc'd) naming the file or block: a CRL file that does
 * not verify, an unreadable block. */
int orderer_crls_open(struct orderer *o, char **errmsg);

/* After block `b` was appended: installs the CRLs its envelopes write (each logged), and keeps
 * them. Errors are logged; the block stays appended. Called by one thread at a time. */
void orderer_crls_block(struct orderer *o, const Stele__Block *b);

#endif
