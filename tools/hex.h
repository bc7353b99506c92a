/*
 * hex.h -- lowercase hexadecimal for the CLI.
 *
 * Every byte string on the command line and in the vector files is lowercase
 * hex.  Decoding accepts either case and rejects odd lengths and non-hex
 * characters, so that a typo is reported instead of silently truncated.
 */
#ifndef BT_TOOLS_HEX_H
#define BT_TOOLS_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decodes the NUL-terminated hex string s.  Returns 0 and *out (owned by the
 * caller, free(); never NULL, even for "") with *out_len bytes, or -1 for bad
 * hex (odd length or a non-hex character), or -2 when out of memory. */
int hex_decode(uint8_t **out, size_t *out_len, const char *s);

/* Decodes s into a caller buffer of exactly len bytes.  Returns 0, or -1 if s
 * is not hex of exactly that length. */
int hex_decode_exact(uint8_t *out, size_t len, const char *s);

/* Encodes len bytes into a NUL-terminated string.  Returns NULL when out of
 * memory; the string is owned by the caller (free()). */
char *hex_encode(const uint8_t *buf, size_t len);

/* Writes len bytes as hex to f (no newline). */
void hex_fprint(FILE *f, const uint8_t *buf, size_t len);

/* Compares bytes with a hex string without allocating: 1 if s is the hex
 * encoding of buf[0..len) (either case), 0 otherwise. */
int hex_equals(const uint8_t *buf, size_t len, const char *s);

#endif
