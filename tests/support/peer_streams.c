/* peer_streams.c — streams of the peers the fixture starts (peer_fixture.h), opened as a client
 * of theirs would. */
#include "peer_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "identity/identity.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

struct rpc_call *peer_events_open(struct rpc_channel *ch, const struct test_identity *who,
                                  Stele__EventForm form, uint64_t from)
{
    struct seek_range range;
    Stele__EventsRequest er = STELE__EVENTS_REQUEST__INIT;
    er.seek = seek_range_init(&range, from, UINT64_MAX,
                              STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY);
    er.form = form;
    struct buf body, req;
    uint8_t sig[64];
    buf_init(&body);
    buf_init(&req);
    assert_int_equal(pb_pack_buf(&er.base, &body), STELE_OK);
    assert_int_equal(signed_request_create(who->key, who->record->data, who->record->len,
                                           "/stele.Events/Blocks", body.data, body.len,
                                           clock_wall_ms(), &req, sig),
                     STELE_OK);
    Stele__SignedRequest sr = STELE__SIGNED_REQUEST__INIT;
    sr.request = (ProtobufCBinaryData){req.len, req.data};
    sr.signature = (ProtobufCBinaryData){64, sig};
    struct rpc_call *c = rpc_stream_open(ch, "/stele.Events/Blocks", RPC_SERVER_STREAM,
                                         &stele__events_response__descriptor, -1);
    assert_non_null(c);
    assert_int_equal(rpc_call_send(c, &sr.base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    buf_release(&body);
    buf_release(&req);
    return c;
}
