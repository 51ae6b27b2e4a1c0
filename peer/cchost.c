/*
 * cchost.c — the chaincode host (`stele-peer chaincode-host`, ccrt.h): loads one chaincode,
 * locks itself down and serves invocations one at a time over the socket from the peer.
 *
 * The chaincode's state calls go through a stub (chaincode/shim/stub.h) whose ops send a call
 * to the peer and wait for its reply, except a put or delete that surely succeeds, which goes
 * without waiting (write_call()). Such one-way frames are held back and leave with the next
 * frame the peer must see at once (a call that waits, the result), in one write: the peer's
 * thread, which waits for this host, is woken once instead of once per write. Every reply is
 * kept until the invocation ends, so the pointers the chaincode was given (values, keys) stay
 * valid as stele/chaincode.h promises.
 *
 * Nothing here trusts the peer less than itself (it is the peer's own binary), but every
 * length read is still checked. When the peer goes away (EOF, a broken pipe) the host exits
 * with _exit(): no atexit handlers, no leak checker, no flush of anything.
 */
#include "ccrt_int.h"

#include "base/buf.h"
#include "base/status.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stub.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CCHOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CCHOST_ASAN 1
#endif
#endif

#define EXIT_PEER_GONE 0 /* the socket closed: the peer stopped or dropped this host */
#define EXIT_PROTOCOL  3 /* the peer sent something this host does not understand */

/* The host's state during an invocation. */
struct host {
    /* The running invocation's nonce, echoed in its calls and result: frames left from an
     * earlier invocation (written after its result, or ahead) are never taken for this one's.
     * It binds frames, not the chaincode: its code runs here and may read the nonce (first,
     * where the stub's `impl` points; tests/chaincode/evil.c does) or even the socket, and
     * answer its own invocations as it likes, which it may anyway. */
    uint64_t nonce;
    int fd;                           /* the socket */
    const struct stele_chaincode *cc; /* the loaded descriptor */
    bool ended;                       /* the entry point returned: no more calls */
    ProtobufCMessage **kept;          /* replies kept until the invocation ends */
    size_t n_kept, cap_kept;
    void **blocks; /* other memory handed to the chaincode */
    size_t n_blocks, cap_blocks;
    /* Writes sent without waiting for the answer (CcHostCall.no_reply): the peer's limits,
     * and upper bounds of what the peer has counted against them so far in this invocation
     * (ccrt_sim.c: every get, put and delete adds at most one item, a write at most its key
     * and value). A range adds an unknown number of items, so after one every write waits. */
    uint64_t max_keys, max_write_bytes; /* 0: unknown */
    uint64_t items, write_bytes;
    bool ranged;
    struct buf out; /* frames not written yet (one-way calls held back) */
};

/* One-way frames held back beyond this are written at once (bounds the memory they take). */
#define HOST_HOLD_MAX (64 * 1024)

/* ---- frames ------------------------------------------------------------------------------ */

static bool read_full(int fd, void *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r > 0) {
            p = (uint8_t *)p + r;
            n -= (size_t)r;
        } else if (!(r < 0 && errno == EINTR)) {
            return false;
        }
    }
    return true;
}

static bool write_full(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r > 0) {
            p = (const uint8_t *)p + r;
            n -= (size_t)r;
        } else if (!(r < 0 && errno == EINTR)) {
            return false;
        }
    }
    return true;
}

/* Writes one frame of `m` (`n` octets packed) from a block of its own size; exits when the
 * peer is gone. */
static void write_frame(int fd, const Stele__CcHostToPeer *m, size_t n)
{
    uint8_t *frame = malloc(4 + n);
    if (!frame)
        _exit(EXIT_PROTOCOL); /* the peer reports a host that exits mid-invocation */
    put_u32be(frame, (uint32_t)n);
    protobuf_c_message_pack(&m->base, frame + 4);
    bool ok = write_full(fd, frame, 4 + n);
    free(frame);
    if (!ok)
        _exit(EXIT_PEER_GONE);
}

/* Writes what `out` holds; exits when the peer is gone. */
static void flush(int fd, struct buf *out)
{
    bool ok = write_full(fd, out->data, out->len);
    out->len = 0;
    if (!ok)
        _exit(EXIT_PEER_GONE);
}

/* Sends one frame after those held back. With `hold`, a one-way frame, it may stay in `out`
 * until a later send. A frame over HOST_HOLD_MAX goes alone, so `out` stays under twice that
 * and a large value or result costs the memory it did before anything was held. */
static void send_msg(int fd, struct buf *out, const Stele__CcHostToPeer *m, bool hold)
{
    size_t n = protobuf_c_message_get_packed_size(&m->base);
    if (n > CCHOST_MAX_HOST_FRAME)
        _exit(EXIT_PROTOCOL);
    if (4 + n > HOST_HOLD_MAX) {
        if (out->len)
            flush(fd, out);
        write_frame(fd, m, n);
        return;
    }
    if (buf_reserve(out, 4 + n) != STELE_OK)
        _exit(EXIT_PROTOCOL);
    put_u32be(out->data + out->len, (uint32_t)n);
    protobuf_c_message_pack(&m->base, out->data + out->len + 4);
    out->len += 4 + n;
    if (!hold || out->len >= HOST_HOLD_MAX)
        flush(fd, out);
}

/* Receives one frame (free with pb_free()); exits when the peer is gone. */
static Stele__CcPeerToHost *recv_msg(int fd)
{
    uint8_t head[4];
    if (!read_full(fd, head, 4))
        _exit(EXIT_PEER_GONE);
    uint32_t len = get_u32be(head);
    uint8_t *body = len <= CCHOST_MAX_FRAME ? malloc(len ? len : 1) : NULL;
    if (!body)
        _exit(EXIT_PROTOCOL);
    if (!read_full(fd, body, len))
        _exit(EXIT_PEER_GONE);
    ProtobufCMessage *m = pb_unpack(&stele__cc_peer_to_host__descriptor, NULL, body, len, 0);
    free(body);
    if (!m)
        _exit(EXIT_PROTOCOL);
    return (Stele__CcPeerToHost *)m;
}

/* ---- memory of an invocation ---------------------------------------------------------- */

static void keep_msg(struct host *h, ProtobufCMessage *m)
{
    if (h->n_kept == h->cap_kept) {
        size_t c = h->cap_kept ? h->cap_kept * 2 : 64;
        ProtobufCMessage **p = realloc(h->kept, c * sizeof *p);
        if (!p)
            _exit(EXIT_PROTOCOL);
        h->kept = p;
        h->cap_kept = c;
    }
    h->kept[h->n_kept++] = m;
}

/* A copy of `len` octets plus a NUL that lives until the invocation ends. */
static char *keep_str(struct host *h, const uint8_t *p, size_t len)
{
    if (h->n_blocks == h->cap_blocks) {
        size_t c = h->cap_blocks ? h->cap_blocks * 2 : 64;
        void **b = realloc(h->blocks, c * sizeof *b);
        if (!b)
            return NULL;
        h->blocks = b;
        h->cap_blocks = c;
    }
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    if (len)
        memcpy(s, p, len);
    s[len] = 0;
    h->blocks[h->n_blocks++] = s;
    return s;
}

static void end_invocation(struct host *h)
{
    for (size_t i = 0; i < h->n_kept; i++)
        pb_free(h->kept[i]);
    for (size_t i = 0; i < h->n_blocks; i++)
        free(h->blocks[i]);
    h->n_kept = h->n_blocks = 0;
}

/* ---- the stub's state ops ------------------------------------------------------------------ */

/* Sends `c` and returns the peer's reply (kept), NULL for CLOSE and a write sent with
 * no_reply (the peer sends none). */
static const Stele__CcHostReply *call(struct host *h, Stele__CcHostCall *c)
{
    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_CALL;
    c->nonce = h->nonce;
    m.call = c;
    bool one_way = c->op == STELE__CC_HOST_CALL__OP__CLOSE || c->no_reply;
    send_msg(h->fd, &h->out, &m, one_way);
    if (one_way)
        return NULL;
    Stele__CcPeerToHost *r = recv_msg(h->fd);
    if (r->msg_case != STELE__CC_PEER_TO_HOST__MSG_REPLY)
        _exit(EXIT_PROTOCOL);
    keep_msg(h, &r->base);
    return r->reply;
}

static ProtobufCBinaryData bytes_of(const void *p, size_t len)
{
    return (ProtobufCBinaryData){len, (uint8_t *)(len ? p : NULL)};
}

/* A state-call result as the API knows them (anything else: FAILED). */
static int api_rc(int rc)
{
    switch (rc) {
    case STELE_CC_OK:
    case STELE_CC_NOT_FOUND:
    case STELE_CC_INVALID:
    case STELE_CC_LIMIT:
        return rc;
    default:
        return STELE_CC_FAILED;
    }
}

static const uint8_t *value_of(const ProtobufCBinaryData *v)
{
    return v->data ? v->data : (const uint8_t *)"";
}

static int op_get(void *impl, const char *key, const uint8_t **value, size_t *len)
{
    struct host *h = impl;
    if (h->ended)
        return STELE_CC_FAILED;
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__GET;
    c.key = bytes_of(key, strlen(key));
    h->items++; /* a read may count as one item */
    const Stele__CcHostReply *r = call(h, &c);
    if (r->rc == STELE_CC_OK) {
        *value = value_of(&r->value);
        *len = r->value.len;
    }
    return api_rc(r->rc);
}

/* Sends the write `c` (PUT or DEL). When it is well formed and fits the limits even at the
 * upper bounds, it goes without waiting for the peer's answer, which can only be OK (the
 * ccrt_sim.c checks: a key of 1..STELE_CC_MAX_KEY octets, a value of at most
 * STELE_CC_MAX_VALUE, the set's items and write bytes); otherwise the peer answers. */
static int write_call(struct host *h, Stele__CcHostCall *c)
{
    uint64_t bytes = (uint64_t)c->key.len + c->value.len;
    c->no_reply = !h->ranged && c->key.len >= 1 && c->key.len <= STELE_CC_MAX_KEY &&
                  c->value.len <= STELE_CC_MAX_VALUE && h->items < h->max_keys &&
                  h->write_bytes + bytes <= h->max_write_bytes;
    const Stele__CcHostReply *r = call(h, c);
    int rc = r ? api_rc(r->rc) : STELE_CC_OK;
    if (rc == STELE_CC_OK) {
        h->items++;
        h->write_bytes += bytes;
    }
    return rc;
}

static int op_put(void *impl, const char *key, const uint8_t *value, size_t len)
{
    struct host *h = impl;
    if (h->ended)
        return STELE_CC_FAILED;
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__PUT;
    c.key = bytes_of(key, strlen(key));
    c.value = bytes_of(value, len);
    return write_call(h, &c);
}

static int op_del(void *impl, const char *key)
{
    struct host *h = impl;
    if (h->ended)
        return STELE_CC_FAILED;
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__DEL;
    c.key = bytes_of(key, strlen(key));
    return write_call(h, &c);
}

static int op_range(void *impl, const char *start, const char *end, void **it)
{
    struct host *h = impl;
    if (h->ended)
        return STELE_CC_FAILED;
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    h->ranged = true;
    c.op = STELE__CC_HOST_CALL__OP__RANGE;
    c.key = bytes_of(start, strlen(start));
    c.end_key = bytes_of(end, strlen(end));
    const Stele__CcHostReply *r = call(h, &c);
    if (r->rc != STELE_CC_OK)
        return api_rc(r->rc);
    if (!r->iter)
        return STELE_CC_FAILED;
    *it = (void *)(uintptr_t)r->iter; /* the peer's handle, never 0 */
    return STELE_CC_OK;
}

static int op_next(void *impl, void *it, const char **key, const uint8_t **value, size_t *len)
{
    struct host *h = impl;
    if (h->ended)
        return STELE_CC_FAILED;
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__NEXT;
    c.iter = (uint32_t)(uintptr_t)it;
    const Stele__CcHostReply *r = call(h, &c);
    if (r->rc != 1)
        return r->rc == 0 ? 0 : STELE_CC_FAILED;
    if (!r->key.len || memchr(r->key.data, 0, r->key.len))
        return STELE_CC_FAILED;
    const char *k = keep_str(h, r->key.data, r->key.len);
    if (!k)
        return STELE_CC_FAILED;
    *key = k;
    *value = value_of(&r->value);
    *len = r->value.len;
    return 1;
}

static void op_close(void *impl, void *it)
{
    struct host *h = impl;
    if (h->ended) /* the peer records open iterators itself at the end */
        return;
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__CLOSE;
    c.iter = (uint32_t)(uintptr_t)it;
    call(h, &c);
}

static const struct stele_cc_state_ops host_ops = {
    .get = op_get,
    .put = op_put,
    .del = op_del,
    .range = op_range,
    .next = op_next,
    .close = op_close,
};

/* ---- invocations ---------------------------------------------------------------------- */

/* Runs one invocation and sends its result. */
static void invoke(struct host *h, const Stele__CcHostInvoke *inv)
{
    size_t na = inv->n_args, nt = inv->n_attrs;
    const uint8_t **args = calloc(na + 1, sizeof *args);
    size_t *lens = calloc(na + 1, sizeof *lens);
    const char **keys = calloc(nt + 1, sizeof *keys);
    const char **values = calloc(nt + 1, sizeof *values);
    if (!args || !lens || !keys || !values)
        _exit(EXIT_PROTOCOL);
    for (size_t i = 0; i < na; i++) {
        args[i] = inv->args[i].data;
        lens[i] = inv->args[i].len;
    }
    for (size_t i = 0; i < nt; i++) {
        keys[i] = inv->attrs[i]->key ? inv->attrs[i]->key : "";
        values[i] = inv->attrs[i]->value ? inv->attrs[i]->value : "";
    }
    stele_cc_stub stub;
    stele_cc_stub_init(&stub, &host_ops, h);
    stub.function = inv->function ? inv->function : "";
    stub.args = args;
    stub.arg_lens = lens;
    stub.n_args = na;
    stub.tx_id = inv->tx_id ? inv->tx_id : "";
    stub.timestamp_ms = inv->timestamp_ms;
    stub.creator_id = inv->creator_id ? inv->creator_id : "";
    stub.creator_org = inv->creator_org ? inv->creator_org : "";
    stub.creator_role = inv->creator_role ? inv->creator_role : "";
    if (inv->creator_certhash.len == sizeof stub.creator_certhash)
        memcpy(stub.creator_certhash, inv->creator_certhash.data, sizeof stub.creator_certhash);
    stub.attr_keys = keys;
    stub.attr_values = values;
    stub.n_attrs = nt;

    h->max_keys = inv->max_keys;
    h->max_write_bytes = inv->max_write_bytes;
    h->items = h->write_bytes = 0;
    h->nonce = inv->nonce;
    h->ranged = false;
    h->ended = false;
    stele_cc_stub_run(&stub, h->cc);
    h->ended = true;

    Stele__CcHostResult res = STELE__CC_HOST_RESULT__INIT;
    res.status = stub.status;
    res.nonce = h->nonce;
    res.message = stub.message ? stub.message : "";
    res.payload = bytes_of(stub.payload, stub.payload_len);
    if (stub.event_name) {
        res.has_event = true;
        res.event_name = stub.event_name;
        res.event_payload = bytes_of(stub.event_payload, stub.event_len);
    }
    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_RESULT;
    m.result = &res;
    send_msg(h->fd, &h->out, &m, false);

    stele_cc_stub_release(&stub);
    end_invocation(h);
    free(args);
    free(lens);
    free(keys);
    free(values);
}

static void say_hello(int fd, const char *error, const struct stele_chaincode *cc)
{
    Stele__CcHostHello hi = STELE__CC_HOST_HELLO__INIT;
    hi.error = (char *)(error ? error : "");
    if (cc) {
        hi.abi_version = cc->abi_version;
        hi.name = (char *)cc->name;
        hi.version = (char *)(cc->version ? cc->version : "");
    }
    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_HELLO;
    m.hello = &hi;
    struct buf out;
    buf_init(&out);
    send_msg(fd, &out, &m, false);
    buf_release(&out);
}

/* The descriptor of the loaded .so, or NULL with `err` saying what is wrong with it. */
static const struct stele_chaincode *descriptor(void *dl, char *err, size_t errlen)
{
    const struct stele_chaincode *cc = dlsym(dl, "stele_chaincode");
    if (!cc)
        snprintf(err, errlen, "it exports no stele_chaincode descriptor (STELE_CHAINCODE())");
    else if (cc->abi_version != STELE_CC_ABI_VERSION)
        snprintf(err, errlen, "its descriptor has ABI version %u, the peer runs %u",
                 cc->abi_version, STELE_CC_ABI_VERSION);
    else if (!cc->invoke)
        snprintf(err, errlen, "its descriptor has no invoke function");
    else if (!tx_chaincode_name_ok(cc->name) || cc->name[0] == '_')
        snprintf(err, errlen,
                 "its descriptor's name is not 1..64 of [A-Za-z0-9_.-] not starting with '_'");
    else if (cc->version && strnlen(cc->version, 129) > 128)
        snprintf(err, errlen, "its descriptor's version is longer than 128 octets");
    else
        return cc;
    return NULL;
}

/* Address space backstop for builds without AddressSanitizer (ccrt.h). */
static void limit_address_space(size_t memory)
{
#ifndef CCHOST_ASAN
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    if (!pages || !memory)
        return;
    rlim_t as = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE) + 2 * (rlim_t)memory);
    struct rlimit rl = {as, as};
    setrlimit(RLIMIT_AS, &rl);
#else
    (void)memory;
#endif
}

int ccrt_host_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"fd", required_argument, NULL, 'f'},
        {"so", required_argument, NULL, 's'},
        {"memory", required_argument, NULL, 'm'},
        {"landlock", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    int fd = -1, ch;
    const char *so = NULL;
    size_t memory = 0;
    bool landlock_required = true;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'f')
            fd = atoi(optarg);
        else if (ch == 's')
            so = optarg;
        else if (ch == 'm')
            memory = strtoull(optarg, NULL, 10);
        else if (ch == 'l' && (!strcmp(optarg, "required") || !strcmp(optarg, "optional")))
            landlock_required = !strcmp(optarg, "required");
        else
            return 2;
    }
    if (fd < 3 || !so || optind < argc) {
        fputs("chaincode-host is started by stele-peer, not by hand\n", stderr);
        return 2;
    }
    /* nothing the peer had open stays open here but the socket (and stdio) */
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    limit_address_space(memory);

    char err[256] = "";
    const struct stele_chaincode *cc = NULL;
    void *dl = NULL;
    /* an absolute path: the loader would ask for the working directory of a relative one */
    char *path = realpath(so, NULL);
    if (!path) {
        snprintf(err, sizeof err, "cannot open %s: %s", so, strerror(errno));
    } else if (cchost_sandbox_trap(fd)) {
        snprintf(err, sizeof err, "cannot install the SIGSYS handler");
    } else if (cchost_sandbox_loading(path, fd, landlock_required, err, sizeof err) == STELE_OK) {
        if (!(dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
            snprintf(err, sizeof err, "%s", dlerror());
        else
            cc = descriptor(dl, err, sizeof err);
    }
    free(path);
    if (!cc) {
        say_hello(fd, err[0] ? err : "cannot load the chaincode", NULL);
        _exit(1);
    }
    close(0);
    close(1);
#ifndef CCHOST_ASAN
    close(2); /* sanitizer builds keep it for their reports */
#endif
    if (cchost_sandbox_serving(fd, err, sizeof err)) {
        say_hello(fd, err, NULL);
        _exit(1);
    }
    say_hello(fd, NULL, cc);

    struct host h = {.fd = fd, .cc = cc};
    buf_init(&h.out);
    for (;;) {
        Stele__CcPeerToHost *m = recv_msg(fd);
        if (m->msg_case != STELE__CC_PEER_TO_HOST__MSG_INVOKE)
            _exit(EXIT_PROTOCOL);
        invoke(&h, m->invoke);
        pb_free(&m->base);
    }
}
