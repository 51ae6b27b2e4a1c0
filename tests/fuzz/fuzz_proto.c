/*
 * fuzz_proto.c — every message of proto/ (each one a server or a client may decode from the
 * wire or read from a file), fed arbitrary bytes through pb_unpack, both into an arena, as
 * servers do, and with malloc, then re-packed when it decoded. The list holds every message
 * of proto/stele/ (tests/lint/fuzz_proto_types.test.sh checks that none is missing).
 */
#include "base/arena.h"
#include "grpc/health/v1/health.pb-c.h"
#include "pb/pb.h"
#include "stele/bench.pb-c.h"
#include "stele/block.pb-c.h"
#include "stele/ca.pb-c.h"
#include "stele/ca_store.pb-c.h"
#include "stele/cchost.pb-c.h"
#include "stele/channel.pb-c.h"
#include "stele/cluster.pb-c.h"
#include "stele/common.pb-c.h"
#include "stele/identity.pb-c.h"
#include "stele/lifecycle.pb-c.h"
#include "stele/node.pb-c.h"
#include "stele/orderer.pb-c.h"
#include "stele/peer.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <stdint.h>
#include <stdlib.h>

static const ProtobufCMessageDescriptor *const types[] = {
    &grpc__health__v1__health_check_request__descriptor,
    &grpc__health__v1__health_check_response__descriptor,
    &stele__admin_request__descriptor,
    &stele__attribute__descriptor,
    &stele__batch_parameters__descriptor,
    &stele__block__descriptor,
    &stele__block_data__descriptor,
    &stele__block_header__descriptor,
    &stele__block_metadata__descriptor,
    &stele__block_query__descriptor,
    &stele__blockchain_info__descriptor,
    &stele__broadcast_response__descriptor,
    &stele__ca_cert_record__descriptor,
    &stele__ca_cert_ref__descriptor,
    &stele__ca_id_record__descriptor,
    &stele__ca_info__descriptor,
    &stele__ca_info_request__descriptor,
    &stele__ca_secret_hash__descriptor,
    &stele__cc_host_attr__descriptor,
    &stele__cc_host_call__descriptor,
    &stele__cc_host_hello__descriptor,
    &stele__cc_host_invoke__descriptor,
    &stele__cc_host_reply__descriptor,
    &stele__cc_host_result__descriptor,
    &stele__cc_host_to_peer__descriptor,
    &stele__cc_peer_to_host__descriptor,
    &stele__chain_info_request__descriptor,
    &stele__chaincode_definition__descriptor,
    &stele__chaincode_event__descriptor,
    &stele__chaincode_events__descriptor,
    &stele__chaincode_invocation__descriptor,
    &stele__chaincode_package__descriptor,
    &stele__channel_config__descriptor,
    &stele__commit_readiness__descriptor,
    &stele__commit_status_request__descriptor,
    &stele__commit_status_response__descriptor,
    &stele__committed_chaincode__descriptor,
    &stele__committed_list__descriptor,
    &stele__committed_query__descriptor,
    &stele__crl__descriptor,
    &stele__crl_body__descriptor,
    &stele__crl_request__descriptor,
    &stele__deliver_response__descriptor,
    &stele__echo_request__descriptor,
    &stele__echo_response__descriptor,
    &stele__endorsement__descriptor,
    &stele__enroll_request__descriptor,
    &stele__enroll_response__descriptor,
    &stele__envelope__descriptor,
    &stele__events_request__descriptor,
    &stele__events_response__descriptor,
    &stele__filtered_block__descriptor,
    &stele__filtered_transaction__descriptor,
    &stele__header__descriptor,
    &stele__history_entry__descriptor,
    &stele__history_query__descriptor,
    &stele__history_response__descriptor,
    &stele__identity__descriptor,
    &stele__identity_body__descriptor,
    &stele__install_request__descriptor,
    &stele__install_response__descriptor,
    &stele__installed_chaincode__descriptor,
    &stele__installed_list__descriptor,
    &stele__installed_query__descriptor,
    &stele__kvread__descriptor,
    &stele__kvwrite__descriptor,
    &stele__node_info__descriptor,
    &stele__node_info_request__descriptor,
    &stele__ns_rw_set__descriptor,
    &stele__orderer_node_config__descriptor,
    &stele__org_approval__descriptor,
    &stele__organisation_config__descriptor,
    &stele__payload__descriptor,
    &stele__pbft_ack__descriptor,
    &stele__pbft_message__descriptor,
    &stele__pbft_new_view__descriptor,
    &stele__pbft_parameters__descriptor,
    &stele__pbft_prepared__descriptor,
    &stele__pbft_proof__descriptor,
    &stele__pbft_signed__descriptor,
    &stele__pbft_state__descriptor,
    &stele__pbft_view_change__descriptor,
    &stele__peer_chain_info__descriptor,
    &stele__peer_chain_info_request__descriptor,
    &stele__prepared_transaction__descriptor,
    &stele__processed_transaction__descriptor,
    &stele__proposal__descriptor,
    &stele__proposal_response__descriptor,
    &stele__proposal_response_payload__descriptor,
    &stele__range_query__descriptor,
    &stele__range_read__descriptor,
    &stele__range_response__descriptor,
    &stele__reenroll_request__descriptor,
    &stele__register_request__descriptor,
    &stele__register_response__descriptor,
    &stele__response__descriptor,
    &stele__revoke_request__descriptor,
    &stele__revoke_response__descriptor,
    &stele__revoked_entry__descriptor,
    &stele__seek_info__descriptor,
    &stele__seek_newest__descriptor,
    &stele__seek_oldest__descriptor,
    &stele__seek_position__descriptor,
    &stele__seek_specified__descriptor,
    &stele__signed_install__descriptor,
    &stele__signed_proposal__descriptor,
    &stele__signed_request__descriptor,
    &stele__sink_summary__descriptor,
    &stele__solo_proof__descriptor,
    &stele__state_entry__descriptor,
    &stele__state_query__descriptor,
    &stele__state_response__descriptor,
    &stele__submit_request__descriptor,
    &stele__submit_response__descriptor,
    &stele__timestamp__descriptor,
    &stele__transaction__descriptor,
    &stele__transaction_query__descriptor,
    &stele__tx_rw_set__descriptor,
    &stele__version__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct arena *a = arena_create(0);
        ProtobufCMessage *m = pb_unpack(types[i], a, data, size, 1u << 20);
        if (m) {
            size_t n;
            uint8_t *again = pb_pack(m, &n);
            free(again);
        }
        arena_destroy(a);
        pb_free(pb_unpack(types[i], NULL, data, size, 1u << 20));
    }
    return 0;
}
