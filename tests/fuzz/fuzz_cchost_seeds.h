/*
 * fuzz_cchost_seeds.h — the seed corpus of fuzz_cchost.c (tests/fuzz/corpus/cchost), written by
 * write_seeds() when STELE_WRITE_CCHOST_SEEDS=DIR: each seed is a configuration octet and the
 * framed CcHostToPeer messages a host would send (state calls, results, and protocol errors:
 * bad calls, a forbidden syscall, a hello during an invocation, an oversize or truncated
 * frame).
 *
 * Part of fuzz_cchost.c, and included by it only: a fuzz target is built from its one
 * tests/fuzz/fuzz_*.c (CMakeLists.txt), so its pieces are headers, with static definitions.
 */
#ifndef STELE_FUZZ_CCHOST_SEEDS_H
#define STELE_FUZZ_CCHOST_SEEDS_H

#include "fuzz_cchost_fixture.h" /* MAX_ITERS */
#include "fuzz_seed.h"

#include "peer/ccrt_int.h"

#include "base/buf.h"
#include "stele/chaincode.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_frame(struct buf *b, const Stele__CcHostToPeer *m)
{
    size_t len = protobuf_c_message_get_packed_size(&m->base);
    if (buf_append_u32be(b, (uint32_t)len) || buf_reserve(b, len))
        abort();
    protobuf_c_message_pack(&m->base, b->data + b->len);
    b->len += len;
}

/* A state call; keys and values are C strings except for `klen` (0: strlen(key)); `no_reply`
 * as a host sure that a write fits sends it. */
static void put_call_n(struct buf *b, int op, const char *key, size_t klen, const char *value,
                       const char *end, uint32_t iter, bool no_reply)
{
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = (Stele__CcHostCall__Op)op;
    c.key = (ProtobufCBinaryData){key ? (klen ? klen : strlen(key)) : 0, (uint8_t *)key};
    c.value = (ProtobufCBinaryData){value ? strlen(value) : 0, (uint8_t *)value};
    c.end_key = (ProtobufCBinaryData){end ? strlen(end) : 0, (uint8_t *)end};
    c.iter = iter;
    c.no_reply = no_reply;
    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_CALL;
    m.call = &c;
    put_frame(b, &m);
}

enum { GET, PUT, DEL, RANGE, NEXT, CLOSE };

static void put_call(struct buf *b, int op, const char *key, const char *value, const char *end,
                     uint32_t iter)
{
    put_call_n(b, op, key, 0, value, end, iter, false);
}

static void put_call_no_reply(struct buf *b, int op, const char *key, const char *value)
{
    put_call_n(b, op, key, 0, value, NULL, 0, true);
}

static void put_result(struct buf *b, int status, const char *message, const char *event)
{
    Stele__CcHostResult r = STELE__CC_HOST_RESULT__INIT;
    r.status = status;
    r.message = (char *)message;
    r.payload = (ProtobufCBinaryData){7, (uint8_t *)"payload"};
    if (event) {
        r.has_event = true;
        r.event_name = (char *)event;
        r.event_payload = (ProtobufCBinaryData){5, (uint8_t *)"event"};
    }
    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_RESULT;
    m.result = &r;
    put_frame(b, &m);
}

/* Starts a seed with its configuration octet. */
static void cfg(struct buf *b, uint8_t c)
{
    if (buf_append_byte(b, c))
        abort();
}

static void write_seeds(const char *dir)
{
    struct buf b;
    buf_init(&b);

    cfg(&b, 0);
    put_call(&b, GET, "a", NULL, NULL, 0);
    put_call(&b, GET, "b", NULL, NULL, 0);
    put_call(&b, GET, "c", NULL, NULL, 0);
    put_call(&b, GET, "d", NULL, NULL, 0);
    put_call(&b, GET, "zzz", NULL, NULL, 0);
    put_call(&b, PUT, "n", "v", NULL, 0);
    put_call(&b, GET, "n", NULL, NULL, 0);
    put_call(&b, PUT, "n", "", NULL, 0);
    put_call(&b, DEL, "b", NULL, NULL, 0);
    put_call(&b, GET, "b", NULL, NULL, 0);
    put_call(&b, PUT, "a", "new", NULL, 0);
    put_call(&b, GET, "a", NULL, NULL, 0);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "get_put_del", &b);

    cfg(&b, 0);
    put_call(&b, RANGE, "p", NULL, "q", 0);
    for (int i = 0; i < 80; i++)
        put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, CLOSE, NULL, NULL, NULL, 1);
    put_result(&b, 200, "ok", NULL);
    fuzz_write_seed(dir, "range_across_pages", &b);

    cfg(&b, 0);
    put_call(&b, PUT, "p005", "x", NULL, 0);
    put_call(&b, DEL, "p006", NULL, NULL, 0);
    put_call(&b, PUT, "p0055", "y", NULL, 0);
    put_call(&b, DEL, "p0077", NULL, NULL, 0);
    put_call(&b, RANGE, "p00", NULL, "p01", 0);
    put_call(&b, PUT, "p001", "after the snapshot", NULL, 0);
    for (int i = 0; i < 12; i++)
        put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, RANGE, "", NULL, "", 0);
    for (int i = 0; i < 4; i++)
        put_call(&b, NEXT, NULL, NULL, NULL, 2);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "range_merges_own_writes", &b);

    cfg(&b, 0);
    put_call(&b, PUT, "p0005x", "w", NULL, 0);
    put_call(&b, RANGE, "p000", NULL, "p002", 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, CLOSE, NULL, NULL, NULL, 1);
    put_call(&b, RANGE, "zz/", NULL, "", 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 2);
    put_result(&b, 201, "", NULL);
    fuzz_write_seed(dir, "range_stopped_on_own_write", &b);

    cfg(&b, 0);
    put_call(&b, GET, "\x80hi", NULL, NULL, 0);
    put_call(&b, RANGE, "\x7f", NULL, "", 0);
    for (int i = 0; i < 4; i++)
        put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, PUT, "\xfe", "fe", NULL, 0);
    put_call(&b, RANGE, "\xf0", NULL, "\xff\xff", 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 2);
    put_call(&b, NEXT, NULL, NULL, NULL, 2);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "high_octets", &b);

    cfg(&b, 1); /* max_keys 3 */
    put_call(&b, GET, "a", NULL, NULL, 0);
    put_call(&b, PUT, "b", "x", NULL, 0);
    put_call(&b, RANGE, "p", NULL, "", 0);
    put_call(&b, PUT, "c", "x", NULL, 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, GET, "e", NULL, NULL, 0);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "limit_keys", &b);

    cfg(&b, 1 << 2); /* max_write_bytes 16 */
    put_call(&b, PUT, "k1", "0123456789", NULL, 0);
    put_call(&b, PUT, "k2", "0123456789", NULL, 0);
    put_call(&b, PUT, "k1", "01234567890123", NULL, 0);
    put_call(&b, DEL, "k1", NULL, NULL, 0);
    put_call(&b, PUT, "k2", "0123456789", NULL, 0);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "limit_bytes", &b);

    cfg(&b, 0);
    put_call(&b, GET, "", NULL, NULL, 0);
    put_call_n(&b, GET, "a\0b", 3, NULL, NULL, 0, false);
    put_call(&b, PUT, "", "v", NULL, 0);
    put_call(&b, RANGE, "b", NULL, "a", 0);
    put_call(&b, RANGE, "a", NULL, "a", 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 7);
    put_call(&b, CLOSE, NULL, NULL, NULL, 3);
    put_call(&b, RANGE, "a", NULL, "c", 0);
    put_call(&b, CLOSE, NULL, NULL, NULL, 1);
    put_call(&b, NEXT, NULL, NULL, NULL, 1);
    static char big[STELE_CC_MAX_KEY + 2];
    memset(big, 'k', sizeof big - 1);
    put_call(&b, GET, big, NULL, NULL, 0);
    put_call(&b, 9, "a", NULL, NULL, 0);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "bad_calls", &b);

    cfg(&b, 0);
    put_call_no_reply(&b, PUT, "n1", "one way");
    put_call_no_reply(&b, DEL, "a", NULL);
    put_call(&b, GET, "n1", NULL, NULL, 0); /* reads its own write */
    put_call(&b, PUT, "n2", "waits", NULL, 0);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "no_reply_writes", &b);

    cfg(&b, 1 << 2); /* max_write_bytes 16 */
    put_call_no_reply(&b, PUT, "k1", "0123456789");
    put_call_no_reply(&b, PUT, "k2", "0123456789"); /* refused: spoils the set */
    put_call_no_reply(&b, PUT, "", "v");
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "no_reply_refused", &b);

    cfg(&b, 0);
    put_call_no_reply(&b, GET, "a", NULL); /* a protocol error */
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "no_reply_on_get", &b);

    cfg(&b, 0);
    for (int i = 0; i < MAX_ITERS + 1; i++)
        put_call(&b, RANGE, "zz/", NULL, "", 0);
    put_call(&b, NEXT, NULL, NULL, NULL, 1);
    put_call(&b, CLOSE, NULL, NULL, NULL, 2);
    put_call(&b, RANGE, "zz/", NULL, "", 0);
    put_call(&b, NEXT, NULL, NULL, NULL, MAX_ITERS + 1);
    put_result(&b, 200, "", NULL);
    fuzz_write_seed(dir, "many_iterators", &b);

    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    cfg(&b, 0);
    put_call(&b, GET, "a", NULL, NULL, 0);
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_FORBIDDEN_SYSCALL;
    m.forbidden_syscall = 59; /* execve */
    put_frame(&b, &m);
    fuzz_write_seed(dir, "forbidden_syscall", &b);

    cfg(&b, 0);
    put_call(&b, PUT, "a", "x", NULL, 0);
    Stele__CcHostHello hello = STELE__CC_HOST_HELLO__INIT;
    hello.name = (char *)"kv";
    hello.version = (char *)"1";
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_HELLO;
    m.hello = &hello;
    put_frame(&b, &m);
    fuzz_write_seed(dir, "hello_during_invocation", &b);

    cfg(&b, 0);
    put_call(&b, GET, "a", NULL, NULL, 0);
    if (buf_append_u32be(&b, CCHOST_MAX_FRAME + 1) || buf_append(&b, "\x12\x00", 2))
        abort();
    fuzz_write_seed(dir, "oversize_frame", &b);

    cfg(&b, 0);
    put_call(&b, GET, "a", NULL, NULL, 0);
    put_call(&b, PUT, "b", "truncated", NULL, 0);
    b.len -= 5;
    fuzz_write_seed(dir, "truncated_frame", &b);

    cfg(&b, 0);
    put_call(&b, PUT, "e", "event", NULL, 0);
    put_result(&b, 200, "done", "ev");
    put_call(&b, PUT, "after", "the result", NULL, 0);
    fuzz_write_seed(dir, "result_with_event", &b);

    cfg(&b, 0);
    put_call(&b, PUT, "a", "x", NULL, 0);
    put_result(&b, 500, "failed", NULL);
    fuzz_write_seed(dir, "result_failed", &b);

    buf_release(&b);
}

#endif
