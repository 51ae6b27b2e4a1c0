/* msp_int.h — the MSP's layout, shared by the files of lib/identity (not a public header). */
#ifndef STELE_IDENTITY_MSP_INT_H
#define STELE_IDENTITY_MSP_INT_H

#include "crypto/keycache.h"
#include "crypto/sigcache.h"
#include "identity/reccache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One trusted CA key. */
struct msp_ca {
    char *org;              /* organisation it vouches for; NULL = any */
    uint64_t ca_id;         /* expected CertU issuer id; 0 = any */
    struct crypto_key *key; /* Q_CA (one reference) */
};

/* The revoked certhashes of one CA key, from its latest CRL. */
struct msp_crl {
    struct crypto_key *key; /* the CA key that signed it (one reference) */
    uint64_t number;        /* CRL number */
    uint8_t (*hashes)[32];  /* sorted certhashes */
    size_t n;               /* entries in hashes */
};

struct msp {
    struct msp_ca *cas;       /* trusted CA keys */
    size_t n_cas;             /* entries in cas */
    struct msp_crl *crls;     /* installed CRLs, one per CA key */
    size_t n_crls;            /* entries in crls */
    pthread_mutex_t lock;     /* protects crls */
    struct keycache *cache;   /* extracted keys by certhash */
    struct reccache *records; /* verified identity records by hash of their bytes */
    struct sigcache *sigs;    /* valid signatures seen or made; NULL unless enabled */
    bool sigs_borrowed;       /* sigs is another MSP's (msp_share_sigcache()) */
};

#endif
