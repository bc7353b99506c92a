/*
 * jsonio.h -- the JSON shapes of the reference vectors, in both directions.
 *
 * Operation objects:  {"op":"Insert","key":hex,"value":hex}, {"op":"Lookup","key":hex}
 * Result objects:     {"ok":true,"old":hex|null} or {"ok":false,"error":class}
 * Parameters:         "key_length": n, "value_length": n | null (variable)
 *
 * Parsing functions return 0, or -1 with a one-line reason in err (capacity
 * errlen).  They never abort on malformed input.
 */
#ifndef BT_TOOLS_JSONIO_H
#define BT_TOOLS_JSONIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <basistrees.h>

/* A list of operations that owns its key and value bytes. */
typedef struct op_list {
    bt_op *ops;
    uint8_t **bytes; /* bytes[i]: one allocation, key then value, of ops[i] */
    size_t n, cap;
} op_list;

/* Empties and frees a list (the struct itself is the caller's). */
void op_list_free(op_list *list);

/* Decodes one operation object and appends it to list. */
int jsonio_op_append(op_list *list, const json_t *obj, char *err, size_t errlen);

/* Decodes a JSON array of operation objects into an empty list. */
int jsonio_ops(op_list *list, const json_t *array, char *err, size_t errlen);

/* Reads "key_length" and "value_length" of obj into *out (value_max 0). */
int jsonio_params(bt_params *out, const json_t *obj, char *err, size_t errlen);

/* Compares an expected result object with an actual result.  Returns 1 if
 * they agree, 0 with the difference in why. */
int jsonio_result_matches(const json_t *expected, const bt_result *got, char *why, size_t whylen);

/* 1 if the expected result object says the operation succeeded. */
int jsonio_result_ok(const json_t *expected);

/* A new result object for r (status 0 or a failure class); NULL on OOM. */
json_t *jsonio_result(const bt_result *r);

/* A new JSON string of the bytes in lowercase hex (JSON null when out of
 * memory, so it can be packed directly). */
json_t *jsonio_hexstr(const uint8_t *p, size_t n);

/* Prints obj as one compact line on stdout ("{}" if obj is NULL or cannot be
 * encoded) and releases it. */
void jsonio_print(json_t *obj);

/* The string member key of obj, or NULL if absent or not a string. */
const char *jsonio_str(const json_t *obj, const char *key);

/* Decodes the hex string member key of obj into a buffer of exactly len
 * bytes.  Returns 0 or -1 (absent, not hex, wrong length). */
int jsonio_hex_exact(uint8_t *out, size_t len, const json_t *obj, const char *key, char *err,
                     size_t errlen);

/* Decodes the hex string member key of obj into *out (owned by the caller,
 * free()). */
int jsonio_hex(uint8_t **out, size_t *out_len, const json_t *obj, const char *key, char *err,
               size_t errlen);

/* Reads an integer member (or null, giving null_value).  Returns 0 or -1. */
int jsonio_int_or_null(long long *out, const json_t *obj, const char *key, long long null_value,
                       char *err, size_t errlen);

#endif
