/* seek.c — resolving seek positions (see seek.h). */
#include "ledger/seek.h"

#include <stddef.h>

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
