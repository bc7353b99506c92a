/*
 * config.h -- the value parsers behind bt_db_options_load (config.c).
 *
 * The loader itself is public (include/basistrees.h, "Persistent
 * database"); the file format is described in docs/OPERATIONS.md.  These
 * helpers are exposed for the unit tests.  Each returns 0, or -1 with a short
 * reason ("not a number", "too large") in why (capacity whycap).
 */
#ifndef BT_UTIL_CONFIG_H
#define BT_UTIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* A byte count: decimal digits, optionally followed by K, M, G or T
 * (powers of 1024; "KiB", "MiB", "GiB", "TiB" and lowercase letters are
 * accepted too).  Overflow is an error. */
int bt_config_parse_size(uint64_t *out, const char *s, char *why, size_t whycap);

/* A plain unsigned decimal integer no larger than max. */
int bt_config_parse_uint(uint64_t *out, const char *s, uint64_t max, char *why, size_t whycap);

/* true/false, yes/no, on/off, 1/0 (case-insensitive). */
int bt_config_parse_bool(int *out, const char *s, char *why, size_t whycap);

#endif
