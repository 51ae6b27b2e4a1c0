/* services.c — grpc.health.v1.Health and stele.Node/Info. */
#include "rpc/services.h"
#include "rpc/rpc.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "grpc/health/v1/health.pb-c.h"
#include "stele/node.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERVICES  32
#define WATCH_POLL_MS 200 /* how often a Watch notices its client went away */

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

struct rpc_health {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t generation; /* bumped on every change */
    bool shutting_down;
    int n;
    char *names[MAX_SERVICES];
    bool serving[MAX_SERVICES];
};

struct rpc_health *rpc_health_create(void)
{
    struct rpc_health *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->names[0] = strdup("");
    h->serving[0] = true;
    h->n = 1;
    return h;
}

void rpc_health_destroy(struct rpc_health *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        free(h->names[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

static int find_locked(struct rpc_health *h, const char *service)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->names[i], service) == 0)
            return i;
    return -1;
}

int rpc_health_set(struct rpc_health *h, const char *service, bool serving)
{
    int rc = STELE_OK;
    pthread_mutex_lock(&h->mu);
    int i = find_locked(h, service);
    if (i < 0) {
        if (h->n == MAX_SERVICES) {
            rc = STELE_ERR_LIMIT;
            goto out;
        }
        if (!(h->names[h->n] = strdup(service))) {
            rc = STELE_ERR_NOMEM;
            goto out;
        }
        i = h->n++;
    }
    h->serving[i] = serving;
    h->generation++;
    pthread_cond_broadcast(&h->cv);
out:
    pthread_mutex_unlock(&h->mu);
    return rc;
}

void rpc_health_shutdown(struct rpc_health *h)
{
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n; i++)
        h->serving[i] = false;
    h->shutting_down = true;
    h->generation++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static serving_status status_locked(struct rpc_health *h, const char *service)
{
    int i = find_locked(h, service);
    if (i < 0)
        return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    return h->serving[i] ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                         : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

static enum rpc_code health_check(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    struct rpc_health *h = arg;
    const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
    pthread_mutex_lock(&h->mu);
    serving_status st = status_locked(h, r->service);
    pthread_mutex_unlock(&h->mu);
    if (st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN)
        return rpc_call_error(call, RPC_NOT_FOUND, "unknown service \"%s\"", r->service);
    Grpc__Health__V1__HealthCheckResponse *out = arena_alloc(rpc_call_arena(call), sizeof *out);
    if (!out)
        return RPC_RESOURCE_EXHAUSTED;
    grpc__health__v1__health_check_response__init(out);
    out->status = st;
    *resp = &out->base;
    return RPC_OK;
}

static enum rpc_code health_watch(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    (void)resp;
    struct rpc_health *h = arg;
    const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
    Grpc__Health__V1__HealthCheckResponse out;
    grpc__health__v1__health_check_response__init(&out);
    int last = -1;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        serving_status st = status_locked(h, r->service);
        bool ending = h->shutting_down;
        if ((int)st != last) {
            pthread_mutex_unlock(&h->mu);
            out.status = st;
            if (rpc_call_send(call, &out.base) != STELE_OK)
                return RPC_CANCELLED;
            last = (int)st;
            pthread_mutex_lock(&h->mu);
            continue;
        }
        if (ending)
            break;
        uint64_t gen = h->generation;
        struct timespec until;
        clock_deadline(CLOCK_MONOTONIC, WATCH_POLL_MS, &until);
        while (gen == h->generation) {
            if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT)
                break;
        }
        if (gen == h->generation) { /* a quiet period: is anybody still listening? */
            pthread_mutex_unlock(&h->mu);
            if (rpc_call_cancelled(call))
                return RPC_CANCELLED;
            pthread_mutex_lock(&h->mu);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return rpc_call_error(call, RPC_UNAVAILABLE, "node is shutting down");
}

int rpc_health_register(struct rpc_health *h, struct rpc_server *s)
{
    const struct rpc_method methods[] = {
        {.path = "/grpc.health.v1.Health/Check",
         .kind = RPC_UNARY,
         .request = &grpc__health__v1__health_check_request__descriptor,
         .handler = health_check,
         .arg = h,
         .flags = RPC_METHOD_INLINE,
         .max_request = 4096},
        {.path = "/grpc.health.v1.Health/Watch",
         .kind = RPC_SERVER_STREAM,
         .request = &grpc__health__v1__health_check_request__descriptor,
         .handler = health_watch,
         .arg = h,
         .max_request = 4096,
         .max_streams = RPC_HEALTH_WATCH_STREAMS},
    };
    return rpc_server_add(s, methods, 2);
}

enum rpc_health_state rpc_health_wait(const char *target, const struct rpc_tls *tls,
                                      const char *service, uint64_t wait_ms,
                                      bool (*give_up)(void *arg), void *arg, struct rpc_result *res)
{
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)(service ? service : "");
    struct rpc_result local;
    if (!res)
        res = &local;
    const struct rpc_channel_opts co = {.fail_fast = true, .tls = tls ? *tls : (struct rpc_tls){0}};
    uint64_t until = clock_mono_ms() + wait_ms;
    enum rpc_health_state st = RPC_HEALTH_UNREACHABLE;
    for (;;) {
        ProtobufCMessage *resp = NULL;
        char *err = NULL;
        struct rpc_channel *ch = rpc_channel_open(target, &co, &err);
        int rc = STELE_ERR_INVALID;
        if (ch)
            rc = rpc_unary(ch, "/grpc.health.v1.Health/Check", &req.base,
                           &grpc__health__v1__health_check_response__descriptor, &resp, 2000, res);
        rpc_channel_close(ch);
        if (rc == STELE_OK)
            st = ((Grpc__Health__V1__HealthCheckResponse *)resp)->status ==
                         GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                     ? RPC_HEALTH_SERVING
                     : RPC_HEALTH_NOT_SERVING;
        else
            st = rc == STELE_ERR_NOT_FOUND ? RPC_HEALTH_UNKNOWN_SERVICE : RPC_HEALTH_UNREACHABLE;
        pb_free(resp);
        if (!ch) {
            res->code = RPC_INVALID_ARGUMENT;
            snprintf(res->detail, sizeof res->detail, "cannot use %s: %s", target,
                     err ? err : "bad address");
            free(err);
            break;
        }
        if (st == RPC_HEALTH_SERVING || clock_mono_ms() >= until || (give_up && give_up(arg)))
            break;
        clock_sleep_ms(50);
    }
    return st;
}

struct rpc_node_service {
    char *node_id;
    char *role;
    uint64_t started_mono_ms;
    uint64_t started_wall_s;
};

struct rpc_node_service *rpc_node_service_create(const char *node_id, const char *role)
{
    struct rpc_node_service *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->node_id = strdup(node_id ? node_id : "");
    n->role = strdup(role ? role : "");
    n->started_mono_ms = clock_mono_ms();
    n->started_wall_s = clock_wall_s();
    if (!n->node_id || !n->role) {
        rpc_node_service_destroy(n);
        return NULL;
    }
    return n;
}

void rpc_node_service_destroy(struct rpc_node_service *n)
{
    if (!n)
        return;
    free(n->node_id);
    free(n->role);
    free(n);
}

static enum rpc_code node_info(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    (void)req;
    struct rpc_node_service *n = arg;
    Stele__NodeInfo *out = arena_alloc(rpc_call_arena(call), sizeof *out);
    if (!out)
        return RPC_RESOURCE_EXHAUSTED;
    stele__node_info__init(out);
    out->node_id = n->node_id;
    out->role = n->role;
    out->version = (char *)STELE_VERSION;
    out->uptime_seconds = (clock_mono_ms() - n->started_mono_ms) / 1000;
    out->started_at = n->started_wall_s;
    *resp = &out->base;
    return RPC_OK;
}

int rpc_node_service_register(struct rpc_node_service *n, struct rpc_server *s)
{
    const struct rpc_method m = {.path = "/stele.Node/Info",
                                 .kind = RPC_UNARY,
                                 .request = &stele__node_info_request__descriptor,
                                 .handler = node_info,
                                 .arg = n,
                                 .flags = RPC_METHOD_INLINE,
                                 .max_request = 1024};
    return rpc_server_add(s, &m, 1);
}
