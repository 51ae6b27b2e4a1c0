/* crc32c.c — table-driven CRC-32C (see crc32c.h). */
#include "ledger/crc32c.h"

#include <pthread.h>

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* table[b] is the CRC register after shifting byte b through eight reflected steps. */
static void table_build(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t r = b;
        for (int i = 0; i < 8; i++)
            r = (r >> 1) ^ ((r & 1) ? CRC32C_POLY : 0);
        table[b] = r;
    }
}

/* NEEDSWORK: one table lookup per byte runs at a few hundred MB/s; slicing-by-8 or the SSE4.2
 * crc32 instruction would take it to GB/s if block reads ever show up in profiles. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, table_build);
    const uint8_t *p = data;
    uint32_t r = ~crc;
    for (size_t i = 0; i < len; i++)
        r = (r >> 8) ^ table[(r ^ p[i]) & 0xff];
    return ~r;
}

uint32_t crc32c(const void *data, size_t len)
{
    return crc32c_update(0, data, len);
}
