/*
 * kv.c — a key-value chaincode for the runtime's tests (test_ccrt): every function reports
 * what it saw, so that a test can compare it with the read/write set the peer built.
 *
 *   get KEY                 payload: the value (404 when absent)
 *   put KEY VALUE ...       writes pairs
 *   del KEY ...             deletes keys
 *   batch OP ...            runs each OP, payload: what each read saw, in order:
 *                             "get KEY"            -> "KEY=VALUE;" or "KEY!;" (absent)
 *                             "put KEY VALUE"      -> ""
 *                             "del KEY"            -> ""
 *                             "range START END N"  -> "[k=v,k=v,...]" (START/END "-" = open;
 *                                                     N = 0: to the end, else at most N)
 *                             "event NAME PAYLOAD" -> ""
 *   many N                  writes keys m00000 .. m(N-1) with value "x"
 *   refuse                  writes a key, then answers 403
 *   info                    payload: "fn|tx|ts|id|org|role|table-attr|certhash[0]|nargs"
 */
#include <stele/chaincode.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable payload. */
struct out {
    char *p;
    size_t len, cap;
};

static void emit(struct out *o, const void *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t c = (o->len + n + 1) * 2;
        char *q = realloc(o->p, c);
        if (!q)
            abort();
        o->p = q;
        o->cap = c;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void emits(struct out *o, const char *s)
{
    emit(o, s, strlen(s));
}

static int done(stele_cc_stub *stub, struct out *o, int status)
{
    int rc = status == 200 ? stele_cc_success(stub, o->p, o->len) : status;
    free(o->p);
    return rc;
}

static const char *open_key(const char *k)
{
    return strcmp(k, "-") == 0 ? "" : k;
}

/* Runs one batch op; returns 0, or an HTTP status for a failure. */
static int op(stele_cc_stub *stub, const char *line, struct out *o)
{
    char verb[16], a[256], b[256], c[32];
    int n = sscanf(line, "%15s %255s %255s %31s", verb, a, b, c);
    const uint8_t *v;
    size_t len;
    if (n == 2 && strcmp(verb, "get") == 0) {
        int rc = stele_cc_get_state(stub, a, &v, &len);
        emits(o, a);
        if (rc == STELE_CC_OK) {
            emits(o, "=");
            emit(o, v, len);
        } else if (rc == STELE_CC_NOT_FOUND) {
            emits(o, "!");
        } else {
            return 500;
        }
        emits(o, ";");
        return 0;
    }
    if (n == 3 && strcmp(verb, "put") == 0)
        return stele_cc_put_state(stub, a, b, strlen(b)) == STELE_CC_OK ? 0 : 500;
    if (n == 2 && strcmp(verb, "del") == 0)
        return stele_cc_del_state(stub, a) == STELE_CC_OK ? 0 : 500;
    if (n == 3 && strcmp(verb, "event") == 0)
        return stele_cc_set_event(stub, a, b, strlen(b)) == STELE_CC_OK ? 0 : 500;
    if (n == 4 && strcmp(verb, "range") == 0) {
        stele_cc_iter *it;
        if (stele_cc_range(stub, open_key(a), open_key(b), &it) != STELE_CC_OK)
            return 500;
        long max = atol(c), got = 0;
        const char *k;
        emits(o, "[");
        int rc;
        while ((max == 0 || got < max) && (rc = stele_cc_iter_next(it, &k, &v, &len)) == 1) {
            emit(o, k, strlen(k));
            emits(o, "=");
            emit(o, v, len);
            emits(o, ",");
            got++;
        }
        emits(o, "]");
        stele_cc_iter_close(it);
        return 0;
    }
    return 400;
}

static int invoke(stele_cc_stub *stub)
{
    const char *fn = stele_cc_function(stub);
    size_t n = stele_cc_arg_count(stub);
    struct out o = {0};
    emits(&o, "");
    if (strcmp(fn, "get") == 0 && n == 1) {
        const uint8_t *v;
        size_t len;
        int rc = stele_cc_get_state(stub, stele_cc_arg_string(stub, 0), &v, &len);
        if (rc == STELE_CC_NOT_FOUND)
            return free(o.p), stele_cc_error(stub, 404, "no such key");
        if (rc != STELE_CC_OK)
            return free(o.p), stele_cc_error(stub, 500, "get failed: %d", rc);
        emit(&o, v, len);
        return done(stub, &o, 200);
    }
    if (strcmp(fn, "put") == 0 && n % 2 == 0) {
        for (size_t i = 0; i < n; i += 2) {
            size_t len;
            const uint8_t *v = stele_cc_arg(stub, i + 1, &len);
            int rc = stele_cc_put_state(stub, stele_cc_arg_string(stub, i), v, len);
            if (rc != STELE_CC_OK)
                return free(o.p),
                       stele_cc_error(stub, rc == STELE_CC_LIMIT ? 413 : 500, "put failed: %d", rc);
        }
        return done(stub, &o, 200);
    }
    if (strcmp(fn, "del") == 0) {
        for (size_t i = 0; i < n; i++)
            if (stele_cc_del_state(stub, stele_cc_arg_string(stub, i)) != STELE_CC_OK)
                return free(o.p), stele_cc_error(stub, 500, "del failed");
        return done(stub, &o, 200);
    }
    if (strcmp(fn, "batch") == 0) {
        for (size_t i = 0; i < n; i++) {
            int st = op(stub, stele_cc_arg_string(stub, i), &o);
            if (st)
                return free(o.p), stele_cc_error(stub, st, "op %zu failed", i);
        }
        return done(stub, &o, 200);
    }
    if (strcmp(fn, "many") == 0 && n == 1) {
        long count = atol(stele_cc_arg_string(stub, 0));
        for (long i = 0; i < count; i++) {
            char k[32];
            snprintf(k, sizeof k, "m%05ld", i);
            int rc = stele_cc_put_state(stub, k, "x", 1);
            if (rc != STELE_CC_OK)
                return free(o.p), stele_cc_error(stub, rc == STELE_CC_LIMIT ? 413 : 500,
                                                 "put %ld failed: %d", i, rc);
        }
        return done(stub, &o, 200);
    }
    if (strcmp(fn, "refuse") == 0) {
        stele_cc_put_state(stub, "refused", "1", 1);
        stele_cc_set_event(stub, "never", "x", 1);
        return free(o.p), stele_cc_error(stub, 403, "refused on purpose");
    }
    if (strcmp(fn, "status") == 0 && n == 1) { /* answers the status given, as it is */
        const char *a = stele_cc_arg_string(stub, 0);
        return free(o.p), a ? atoi(a) : 400;
    }
    if (strcmp(fn, "info") == 0) {
        char line[1024];
        const char *table = stele_cc_creator_attr(stub, "table");
        snprintf(line, sizeof line, "%s|%s|%llu|%s|%s|%s|%s|%u|%zu", fn, stele_cc_tx_id(stub),
                 (unsigned long long)stele_cc_timestamp_ms(stub), stele_cc_creator_id(stub),
                 stele_cc_creator_org(stub), stele_cc_creator_role(stub), table ? table : "-",
                 stele_cc_creator_certhash(stub)[0], n);
        emits(&o, line);
        return done(stub, &o, 200);
    }
    free(o.p);
    return stele_cc_error(stub, 400, "unknown function %s", fn);
}

#ifndef TESTCC_NAME
#define TESTCC_NAME "kv" /* chaincodes.cmake builds it as "cc" too */
#endif
STELE_CHAINCODE(TESTCC_NAME, "1.0", NULL, invoke);
