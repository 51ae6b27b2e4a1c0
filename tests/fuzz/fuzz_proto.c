/*
 * fuzz_proto.c — every request message a Stele server decodes from the wire, fed arbitrary
 * bytes through pb_unpack (both into an arena, as servers do, and with malloc), then
 * re-packed when it decoded.
 */
#include "base/arena.h"
#include "grpc/health/v1/health.pb-c.h"
#include "pb/pb.h"
#include "stele/bench.pb-c.h"
#include "stele/common.pb-c.h"
#include "stele/node.pb-c.h"

#include <stdint.h>
#include <stdlib.h>

static const ProtobufCMessageDescriptor *const types[] = {
    &grpc__health__v1__health_check_request__descriptor,
    &stele__node_info_request__descriptor,
    &stele__echo_request__descriptor,
    &stele__envelope__descriptor,
    &stele__payload__descriptor,
    &stele__header__descriptor,
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
