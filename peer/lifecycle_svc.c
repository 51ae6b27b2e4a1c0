/*
 * lifecycle_svc.c — stele.Lifecycle (proto/stele/lifecycle.proto): installing chaincode
 * packages on this peer and listing what is installed and committed. Approving and committing
 * definitions are transactions of the `_lifecycle` system chaincode (lib/ledger/lifecycle.h),
 * submitted like any other.
 */
#include "peer_int.h"

#include "base/arena.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/lifecycle.h"
#include "ledger/statedb.h"
#include "pb/pb.h"
#include "stele/lifecycle.pb-c.h"

#include <limits.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

/* Install and Installed: an admin of this peer's organisation. */
static enum rpc_code admin_only(struct peer *p, struct rpc_call *call, const ProtobufCMessage *req,
                                struct signed_request *sr)
{
    enum rpc_code code = peer_request_verify(p, call, req, sr);
    if (code != RPC_OK)
        return code;
    if (!identity_has_role(&sr->signer, "admin") || strcmp(sr->signer.org, p->org) != 0)
        return rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "only an admin of %s may manage this peer's chaincodes (%s is %s "
                              "of %s)",
                              p->org, sr->signer.id, sr->signer.role, sr->signer.org);
    return RPC_OK;
}

/* Stores the package once its shared object loaded as the chaincode it names (ccstore.c: a
 * package that does not is refused and nothing of it stays). *e describes what was
 * installed. */
static enum rpc_code install_checked(struct peer *p, struct rpc_call *call,
                                     const Stele__SignedInstall *si, struct ccstore_entry *e)
{
    char *err = NULL;
    int rc = ccstore_install(p, si->package.data, si->package.len, e, &err);
    if (rc == STELE_OK)
        return RPC_OK;
    enum rpc_code code =
        rpc_call_error(call, rc == STELE_ERR_MALFORMED ? RPC_INVALID_ARGUMENT : RPC_INTERNAL, "%s",
                       err ? err : stele_strerror(rc));
    free(err);
    return code;
}

static enum rpc_code lc_install(struct rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    const Stele__SignedInstall *si = (const Stele__SignedInstall *)req;
    if (!si->request)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "no signed request");
    struct signed_request sr;
    enum rpc_code code = admin_only(p, call, &si->request->base, &sr);
    if (code != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    Stele__InstallRequest *ir = (Stele__InstallRequest *)pb_unpack(
        &stele__install_request__descriptor, a, sr.body, sr.body_len, 0);
    if (!ir)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "request body is not an InstallRequest");
    uint8_t digest[32];
    if (crypto_sha256(si->package.data, si->package.len, digest) != STELE_OK ||
        ir->package_hash.len != 32 || memcmp(digest, ir->package_hash.data, 32) != 0)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "the package is not the one the signed request names");
    /* one install at a time: an install whose load check fails removes the shared object,
     * which a second install of the same package may just have stored */
    static pthread_mutex_t install_mu = PTHREAD_MUTEX_INITIALIZER;
    struct ccstore_entry e;
    pthread_mutex_lock(&install_mu);
    code = install_checked(p, call, si, &e);
    pthread_mutex_unlock(&install_mu);
    if (code != RPC_OK)
        return code;
    Stele__InstallResponse *r = arena_calloc(a, 1, sizeof *r);
    uint8_t *h = arena_memdup(a, e.hash, 32);
    char *name = arena_strdup(a, e.name), *version = arena_strdup(a, e.version);
    if (!r || !h || !name || !version)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__install_response__init(r);
    r->package_hash = (ProtobufCBinaryData){32, h};
    r->name = name;
    r->version = version;
    r->already_installed = e.already;
    *resp = &r->base;
    return RPC_OK;
}

struct list_ctx {
    struct arena *a;
    Stele__InstalledList *l;
    size_t cap;
};

static int add_installed(void *ctx, const struct ccstore_entry *e)
{
    struct list_ctx *c = ctx;
    if (c->l->n_chaincodes == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        Stele__InstalledChaincode **v = arena_alloc(c->a, cap * sizeof *v);
        if (!v)
            return STELE_ERR_NOMEM;
        if (c->l->n_chaincodes)
            memcpy(v, c->l->chaincodes, c->l->n_chaincodes * sizeof *v);
        c->l->chaincodes = v;
        c->cap = cap;
    }
    Stele__InstalledChaincode *ic = arena_alloc(c->a, sizeof *ic);
    uint8_t *h = arena_memdup(c->a, e->hash, 32);
    char *name = arena_strdup(c->a, e->name), *version = arena_strdup(c->a, e->version);
    if (!ic || !h || !name || !version)
        return STELE_ERR_NOMEM;
    stele__installed_chaincode__init(ic);
    ic->package_hash = (ProtobufCBinaryData){32, h};
    ic->name = name;
    ic->version = version;
    c->l->chaincodes[c->l->n_chaincodes++] = ic;
    return STELE_OK;
}

static enum rpc_code lc_installed(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    struct signed_request sr;
    enum rpc_code code = admin_only(p, call, req, &sr);
    if (code != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    Stele__InstalledList *l = arena_alloc(a, sizeof *l);
    if (!l)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__installed_list__init(l);
    struct list_ctx c = {a, l, 0};
    int rc = ccstore_list(p, add_installed, &c);
    if (rc)
        return rpc_call_error(call, RPC_INTERNAL, "cannot list the installed chaincodes: %s",
                              stele_strerror(rc));
    *resp = &l->base;
    return RPC_OK;
}

struct committed_ctx {
    struct peer *p;
    struct arena *a;
    Stele__CommittedList *l;
    size_t cap;
    int rc;
};

static bool add_committed(void *ctx, const char *key, const uint8_t *value, size_t len,
                          const struct statedb_version *ver)
{
    (void)key, (void)ver;
    struct committed_ctx *c = ctx;
    Stele__ChaincodeDefinition *d = (Stele__ChaincodeDefinition *)pb_unpack(
        &stele__chaincode_definition__descriptor, c->a, value, len, 0);
    if (!d)
        return true; /* not ours to judge here: validation wrote it */
    if (c->l->n_chaincodes == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        Stele__CommittedChaincode **v = arena_alloc(c->a, cap * sizeof *v);
        if (!v) {
            c->rc = STELE_ERR_NOMEM;
            return false;
        }
        if (c->l->n_chaincodes)
            memcpy(v, c->l->chaincodes, c->l->n_chaincodes * sizeof *v);
        c->l->chaincodes = v;
        c->cap = cap;
    }
    Stele__CommittedChaincode *cc = arena_alloc(c->a, sizeof *cc);
    if (!cc) {
        c->rc = STELE_ERR_NOMEM;
        return false;
    }
    stele__committed_chaincode__init(cc);
    cc->definition = d;
    char so[PATH_MAX];
    cc->installed = d->package_hash.len == 32 &&
                    ccstore_so_path(c->p, d->package_hash.data, so, sizeof so) == STELE_OK;
    /* a package of another chaincode (a definition others committed) does not run here */
    struct ccstore_entry e;
    if (cc->installed && ccstore_get(c->p, d->package_hash.data, &e) == STELE_OK && e.name[0] &&
        strcmp(e.name, d->name) != 0) {
        cc->installed = false;
        cc->package_holds = arena_strdup(c->a, e.name);
    }
    c->l->chaincodes[c->l->n_chaincodes++] = cc;
    return true;
}

static enum rpc_code lc_committed(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    struct signed_request sr;
    enum rpc_code code = peer_request_verify(p, call, req, &sr);
    if (code != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    Stele__CommittedQuery *q = (Stele__CommittedQuery *)pb_unpack(
        &stele__committed_query__descriptor, a, sr.body, sr.body_len, 64 * 1024);
    if (!q)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "request body is not a CommittedQuery");
    Stele__CommittedList *l = arena_alloc(a, sizeof *l);
    if (!l)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__committed_list__init(l);
    struct committed_ctx c = {p, a, l, 0, STELE_OK};
    struct statedb *db = kvledger_state(p->ledger);
    int rc;
    if (q->name[0]) {
        char *key = lifecycle_definition_key(a, q->name);
        if (!key)
            return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
        /* [key, key + "\x01") holds exactly `key` */
        char *end = arena_printf(a, "%s\x01", key);
        rc = end ? statedb_range(db, LIFECYCLE_NS, key, end, 1, add_committed, &c, NULL)
                 : STELE_ERR_NOMEM;
    } else {
        /* every key of the form definition/NAME: ['definition/', 'definition0') */
        rc = statedb_range(db, LIFECYCLE_NS, LIFECYCLE_DEFINITION_PFX, "definition0", 0,
                           add_committed, &c, NULL);
    }
    if (rc == STELE_OK)
        rc = c.rc;
    if (rc)
        return rpc_call_error(call, RPC_INTERNAL, "cannot read the definitions: %s",
                              stele_strerror(rc));
    *resp = &l->base;
    return RPC_OK;
}

int peer_lifecycle_register(struct peer *p, struct rpc_server *s)
{
    const ProtobufCMessageDescriptor *sr = &stele__signed_request__descriptor;
    const struct rpc_method m[] = {
        {.path = "/stele.Lifecycle/Install",
         .kind = RPC_UNARY,
         .request = &stele__signed_install__descriptor,
         .handler = lc_install,
         .arg = p},
        {.path = "/stele.Lifecycle/Installed",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = lc_installed,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Lifecycle/Committed",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = lc_committed,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_REQUEST},
    };
    return rpc_server_add(s, m, sizeof m / sizeof m[0]);
}
