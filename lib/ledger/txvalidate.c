/*
 * txvalidate.c — the validator: its threads, the validation of a block (checks 1-7 on all
 * threads, then 8-9 in block order on the caller's), the update of the genesis block and the
 * names of the codes.
 *
 * Threads: `threads - 1` workers wait for a block; the caller works on it too, so a validator of
 * two threads uses both cores. Each thread decodes into its own arena, kept until the block is
 * done because the in-order pass reads what the checks decoded. One block at a time: the
 * committer is the only caller.
 */
#include "ledger/txvalidate_int.h"

#include "base/arena.h"
#include "base/status.h"
#include "ledger/statedb.h"
#include "pb/pb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXV_MAX_THREADS 64
#define TXV_ARENA_CHUNK (256u << 10)

struct txvalidator {
    char *channel_id;
    const Stele__ChannelConfig *channel;
    struct msp *msp;
    unsigned threads;      /* counting the caller */
    struct arena **arenas; /* one per thread; [0] is the caller's */
    pthread_t *workers;    /* threads - 1 */
    unsigned started;      /* workers running */
    pthread_mutex_t mu;
    pthread_cond_t go;   /* a new job, or stop */
    pthread_cond_t done; /* a worker finished the job */
    uint64_t generation; /* bumped per job */
    unsigned busy;       /* workers still on the job */
    bool stop;
    struct txv_job *job;
};

struct worker_arg {
    struct txvalidator *v;
    unsigned index;
};

static void *worker_main(void *arg)
{
    struct txvalidator *v = ((struct worker_arg *)arg)->v;
    unsigned index = ((struct worker_arg *)arg)->index;
    free(arg);
    uint64_t seen = 0;
    pthread_mutex_lock(&v->mu);
    for (;;) {
        while (!v->stop && v->generation == seen)
            pthread_cond_wait(&v->go, &v->mu);
        if (v->stop)
            break;
        seen = v->generation;
        struct txv_job *job = v->job;
        pthread_mutex_unlock(&v->mu);
        txv_check_run(job, v->arenas[index]);
        pthread_mutex_lock(&v->mu);
        if (--v->busy == 0)
            pthread_cond_signal(&v->done);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

int txvalidate_create(const struct txvalidate_config *cfg, struct txvalidator **out)
{
    *out = NULL;
    if (!cfg || !cfg->channel_id || !cfg->channel_id[0] || !cfg->msp)
        return STELE_ERR_INVALID;
    unsigned threads = cfg->threads ? cfg->threads : 2;
    if (threads > TXV_MAX_THREADS)
        threads = TXV_MAX_THREADS;
    struct txvalidator *v = calloc(1, sizeof *v);
    if (!v)
        return STELE_ERR_NOMEM;
    v->msp = cfg->msp;
    v->channel = cfg->channel;
    v->threads = threads;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->go, NULL);
    pthread_cond_init(&v->done, NULL);
    v->channel_id = strdup(cfg->channel_id);
    v->arenas = calloc(threads, sizeof *v->arenas);
    v->workers = calloc(threads, sizeof *v->workers);
    if (!v->channel_id || !v->arenas || !v->workers)
        goto nomem;
    for (unsigned i = 0; i < threads; i++)
        if (!(v->arenas[i] = arena_create(TXV_ARENA_CHUNK)))
            goto nomem;
    for (unsigned i = 1; i < threads; i++) {
        struct worker_arg *arg = malloc(sizeof *arg);
        if (!arg)
            goto nomem;
        *arg = (struct worker_arg){v, i};
        if (pthread_create(&v->workers[i - 1], NULL, worker_main, arg) != 0) {
            free(arg);
            goto nomem;
        }
        v->started++;
    }
    *out = v;
    return STELE_OK;
nomem:
    txvalidate_destroy(v);
    return STELE_ERR_NOMEM;
}

void txvalidate_destroy(struct txvalidator *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    v->stop = true;
    pthread_cond_broadcast(&v->go);
    pthread_mutex_unlock(&v->mu);
    for (unsigned i = 0; i < v->started; i++)
        pthread_join(v->workers[i], NULL);
    for (unsigned i = 0; v->arenas && i < v->threads; i++)
        arena_destroy(v->arenas[i]);
    pthread_cond_destroy(&v->go);
    pthread_cond_destroy(&v->done);
    pthread_mutex_destroy(&v->mu);
    free(v->arenas);
    free(v->workers);
    free(v->channel_id);
    free(v);
}

/* Runs checks 1-7 of `job` on every thread and returns when all are done. */
static void run_checks(struct txvalidator *v, struct txv_job *job)
{
    for (unsigned i = 0; i < v->threads; i++)
        arena_reset(v->arenas[i]);
    unsigned helpers = v->started;
    /* a small block is not worth waking anyone */
    if (job->n < 4)
        helpers = 0;
    if (helpers) {
        pthread_mutex_lock(&v->mu);
        v->job = job;
        v->busy = helpers;
        v->generation++;
        pthread_cond_broadcast(&v->go);
        pthread_mutex_unlock(&v->mu);
    }
    txv_check_run(job, v->arenas[0]);
    if (helpers) {
        pthread_mutex_lock(&v->mu);
        while (v->busy)
            pthread_cond_wait(&v->done, &v->mu);
        v->job = NULL;
        pthread_mutex_unlock(&v->mu);
    }
}

int txvalidate_block(struct txvalidator *v, struct statedb *db, struct blockstore *bs,
                     const Stele__Block *block, uint8_t *codes, struct statedb_update *update,
                     char **errmsg)
{
    if (!block || !block->header || !block->data)
        return stele_errf(errmsg, STELE_ERR_INVALID, "the block has no header or no data");
    uint64_t number = block->header->number;
    if (number == 0 || number != statedb_height(db) || statedb_update_number(update) != number)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "block %llu is not the next block to validate (%llu)",
                          (unsigned long long)number, (unsigned long long)statedb_height(db));
    size_t n = block->data->n_envelopes;
    struct txv_item *items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return stele_errf(errmsg, STELE_ERR_NOMEM, "validating block %llu: out of memory",
                          (unsigned long long)number);
    struct txv_job job = {.channel_id = v->channel_id,
                          .channel = v->channel,
                          .msp = v->msp,
                          .db = db,
                          .block = block,
                          .items = items,
                          .n = n};
    atomic_init(&job.next, 0);
    atomic_init(&job.err, 0);
    run_checks(v, &job);
    int rc = atomic_load(&job.err);
    if (rc)
        rc = stele_errf(errmsg, rc, "validating block %llu: %s", (unsigned long long)number,
                        stele_strerror(rc));
    else
        rc = txv_mvcc_run(&job, bs, update, errmsg);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            codes[i] = items[i].code;
    free(items);
    return rc;
}

static int def_cmp(const void *a, const void *b)
{
    const Stele__ChaincodeDefinition *x = *(const Stele__ChaincodeDefinition *const *)a;
    const Stele__ChaincodeDefinition *y = *(const Stele__ChaincodeDefinition *const *)b;
    return strcmp(x->name, y->name);
}

int txvalidate_genesis(const Stele__ChannelConfig *cfg, const char *tx_id,
                       struct statedb_update *update)
{
    if (!cfg || !tx_id || !update)
        return STELE_ERR_INVALID;
    size_t n = cfg->n_chaincodes;
    if (!n)
        return STELE_OK;
    /* in name order, whatever order the configuration lists them in */
    Stele__ChaincodeDefinition **defs = malloc(n * sizeof *defs);
    if (!defs)
        return STELE_ERR_NOMEM;
    memcpy(defs, cfg->chaincodes, n * sizeof *defs);
    qsort(defs, n, sizeof *defs, def_cmp);
    int rc = STELE_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const Stele__ChaincodeDefinition *d = defs[i];
        if (!tx_chaincode_name_ok(d->name) || d->name[0] == '_' ||
            (i && strcmp(defs[i - 1]->name, d->name) == 0)) {
            rc = STELE_ERR_INVALID;
            break;
        }
        char key[sizeof TXV_DEFINITION_KEY_PREFIX + TX_MAX_NAME_LEN];
        snprintf(key, sizeof key, "%s%s", TXV_DEFINITION_KEY_PREFIX, d->name);
        size_t len = protobuf_c_message_get_packed_size(&d->base);
        uint8_t *bytes = malloc(len ? len : 1);
        if (!bytes) {
            rc = STELE_ERR_NOMEM;
            break;
        }
        protobuf_c_message_pack(&d->base, bytes);
        rc = statedb_update_write(update, 0, tx_id, TXV_LIFECYCLE_NS, key, bytes, len, false);
        free(bytes);
    }
    free(defs);
    return rc;
}

bool txvalidate_code_takes_txid(unsigned code)
{
    switch (code) {
    case STELE__TX_VALIDATION_CODE__VALID:
    case STELE__TX_VALIDATION_CODE__CREATOR_REVOKED:
    case STELE__TX_VALIDATION_CODE__UNKNOWN_CHAINCODE:
    case STELE__TX_VALIDATION_CODE__ENDORSEMENT_POLICY_FAILURE:
    case STELE__TX_VALIDATION_CODE__BAD_ENDORSEMENT:
    case STELE__TX_VALIDATION_CODE__DUPLICATE_TXID:
    case STELE__TX_VALIDATION_CODE__MVCC_READ_CONFLICT:
    case STELE__TX_VALIDATION_CODE__LIFECYCLE_REFUSED:
        return true;
    default:
        return false;
    }
}

const char *txvalidate_code_name(unsigned code)
{
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(&stele__tx_validation_code__descriptor, (int)code);
    return ev ? ev->name : "UNKNOWN";
}
