/* seek.c — resolving seek positions (see seek.h). */
#include "ledger/seek.h"

#include "base/status.h"
#include "ledger/envelope.h"
#include "pb/pb.h"

#include <stddef.h>
#include <stdlib.h>

bool seek_resolve(const Stele__SeekPosition *p, uint64_t height, uint64_t *out)
{
    if (!p)
        return false;
    switch (p->type_case) {
    case STELE__SEEK_POSITION__TYPE_OLDEST:
        *out = 0;
        return true;
    case STELE__SEEK_POSITION__TYPE_NEWEST:
        *out = height ? height - 1 : 0;
        return height > 0;
    case STELE__SEEK_POSITION__TYPE_SPECIFIED:
        *out = p->specified ? p->specified->number : 0;
        return p->specified != NULL;
    default:
        return false;
    }
}

Stele__SeekInfo *seek_range_init(struct seek_range *r, uint64_t from, uint64_t to,
                                 Stele__SeekInfo__SeekBehavior behavior)
{
    stele__seek_specified__init(&r->from);
    stele__seek_specified__init(&r->to);
    r->from.number = from;
    r->to.number = to;
    stele__seek_position__init(&r->start);
    stele__seek_position__init(&r->stop);
    r->start.type_case = r->stop.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    r->start.specified = &r->from;
    r->stop.specified = &r->to;
    stele__seek_info__init(&r->info);
    r->info.start = &r->start;
    r->info.stop = &r->stop;
    r->info.behavior = behavior;
    return &r->info;
}

int seek_deliver_request(const char *channel, uint64_t from, uint64_t to,
                         Stele__SeekInfo__SeekBehavior behavior, const uint8_t *creator,
                         size_t creator_len, const struct crypto_key *key, ProtobufCBinaryData *out)
{
    struct seek_range r;
    size_t len;
    uint8_t *data = pb_pack(&seek_range_init(&r, from, to, behavior)->base, &len);
    if (!data)
        return STELE_ERR_NOMEM;
    struct envelope_params p = {.channel_id = channel,
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = creator,
                                .creator_len = creator_len,
                                .data = data,
                                .data_len = len};
    int rc = envelope_build(&p, key, out, NULL);
    free(data);
    return rc;
}
