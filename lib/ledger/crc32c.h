/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of block file records.
 *
 * Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF (the iSCSI / ext4 /
 * LevelDB CRC): crc32c("123456789") == 0xE3069283. On x86-64 CPUs with SSE4.2 the crc32
 * instruction does the work, eight bytes at a time; elsewhere a table, one byte at a time (both
 * chosen and built once per process). Thread-safe.
 */
#ifndef STELE_LEDGER_CRC32C_H
#define STELE_LEDGER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC-32C over `len` bytes of `data` (NULL allowed when len is 0). Start with
 * crc = 0; crc32c_update(crc32c_update(0, a), b) equals the CRC of a || b. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* crc32c_update() by the table whatever the CPU: the reference the tests compare the
 * instruction with. */
uint32_t crc32c_update_portable(uint32_t crc, const void *data, size_t len);

/* CRC-32C of `len` bytes of `data`: crc32c_update(0, data, len). */
uint32_t crc32c(const void *data, size_t len);

#endif
