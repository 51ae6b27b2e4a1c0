/*
 * pbft_ahead.c — messages for blocks after the one in flight (pbft_int.h). A PRE-PREPARE for
 * n + 1 may arrive before our COMMITs for n, or while we fetch blocks: it is held and handled
 * again once the chain reaches its block.
 *
 * What is held is bounded per sender, so that one faulty orderer can neither grow memory nor
 * push out the messages of the others: one message per (type, sender, block), the first one
 * kept; at most PBFT_AHEAD_PER_SENDER messages and PBFT_AHEAD_BYTES / n octets per sender. When
 * a sender's share is used up, its messages for blocks further than the new one make room,
 * furthest first; messages for nearer blocks are never pushed out.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/status.h"

#include <stdint.h>
#include <string.h>

/* Removes held message i, keeping the others in arrival order. */
static void drop_held(struct pbft *b, size_t i)
{
    buf_release(&b->ahead[i].msg);
    memmove(&b->ahead[i], &b->ahead[i + 1], (b->n_ahead - i - 1) * sizeof b->ahead[0]);
    b->n_ahead--;
    buf_init(&b->ahead[b->n_ahead].msg);
}

void pbft_hold_ahead(struct pbft *b, const Stele__PbftSigned *s, int type, size_t from,
                     uint64_t seq)
{
    size_t count = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < b->n_ahead; i++) {
        const struct pbft_held *h = &b->ahead[i];
        if (h->from != from)
            continue;
        if (h->type == type && h->seq == seq)
            return; /* held already: the first one stays */
        count++;
        bytes += h->msg.len;
    }
    struct buf m;
    buf_init(&m);
    int rc = type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE ? pbft_pack_proposal(b, s, &m, NULL)
                                                        : pbft_pack_signed(s, &m);
    uint64_t share = PBFT_AHEAD_BYTES / (b->m.n ? b->m.n : 1);
    while (rc == STELE_OK && (count >= PBFT_AHEAD_PER_SENDER || bytes + m.len > share)) {
        size_t far = SIZE_MAX;
        for (size_t i = 0; i < b->n_ahead; i++)
            if (b->ahead[i].from == from && b->ahead[i].seq > seq &&
                (far == SIZE_MAX || b->ahead[i].seq > b->ahead[far].seq))
                far = i;
        if (far == SIZE_MAX) {
            rc = STELE_ERR_LIMIT; /* its share holds nearer blocks: this one waits its turn */
            break;
        }
        count--;
        bytes -= b->ahead[far].msg.len;
        drop_held(b, far);
    }
    if (rc != STELE_OK || b->n_ahead >= sizeof b->ahead / sizeof b->ahead[0]) {
        buf_release(&m);
        return;
    }
    struct pbft_held *h = &b->ahead[b->n_ahead++];
    h->msg = m;
    h->seq = seq;
    h->type = type;
    h->from = from;
}

void pbft_replay_ahead(struct pbft *b)
{
    size_t n = 0, keep = 0;
    struct buf now[sizeof b->ahead / sizeof b->ahead[0]];
    for (size_t i = 0; i < b->n_ahead; i++) {
        if (b->ahead[i].seq == b->last_exec + 1)
            now[n++] = b->ahead[i].msg;
        else if (b->ahead[i].seq > b->last_exec + 1)
            b->ahead[keep++] = b->ahead[i];
        else
            buf_release(&b->ahead[i].msg);
    }
    for (size_t i = keep; i < b->n_ahead; i++)
        buf_init(&b->ahead[i].msg);
    b->n_ahead = keep;
    /* Handling may execute the block and replay further: `now` is ours alone. */
    for (size_t i = 0; i < n; i++) {
        pbft_handle_bytes(b, now[i].data, now[i].len);
        buf_release(&now[i]);
    }
}

void pbft_ahead_clear(struct pbft *b)
{
    for (size_t i = 0; i < b->n_ahead; i++)
        buf_release(&b->ahead[i].msg);
    b->n_ahead = 0;
}
