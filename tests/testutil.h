/* Shared helpers for the unit tests (not part of the library). */
#ifndef BT_TESTUTIL_H
#define BT_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Decodes lowercase/uppercase hex into a malloc'd buffer; returns NULL on bad
 * input.  *out_len receives the byte count. */
uint8_t *tu_unhex(const char *hex, size_t *out_len);
/* Encodes bytes as lowercase hex into a malloc'd NUL-terminated string. */
char *tu_hex(const uint8_t *buf, size_t len);
/* Deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);
/* Directory holding the reference vectors (env BT_VECTORS_DIR or ../shared/vectors). */
const char *tu_vectors_dir(void);
#endif
