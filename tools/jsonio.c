/*
 * jsonio.c -- the JSON shapes of the reference vectors (see jsonio.h).
 */
#include "jsonio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

void op_list_free(op_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->bytes[i]);
    free(list->ops);
    free(list->bytes);
    list->ops = NULL;
    list->bytes = NULL;
    list->n = list->cap = 0;
}

static int grow(op_list *list, char *err, size_t errlen)
{
    if (list->n < list->cap)
        return 0;
    size_t cap = list->cap ? 2 * list->cap : 16;
    bt_op *ops = realloc(list->ops, cap * sizeof *ops);
    if (ops != NULL)
        list->ops = ops;
    uint8_t **bytes = realloc(list->bytes, cap * sizeof *bytes);
    if (bytes != NULL)
        list->bytes = bytes;
    if (ops == NULL || bytes == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    list->cap = cap;
    return 0;
}

const char *jsonio_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int jsonio_hex(uint8_t **out, size_t *out_len, const json_t *obj, const char *key, char *err,
               size_t errlen)
{
    const char *s = jsonio_str(obj, key);
    *out = NULL;
    *out_len = 0;
    if (s == NULL) {
        snprintf(err, errlen, "missing or non-string \"%s\"", key);
        return -1;
    }
    int rc = hex_decode(out, out_len, s);
    if (rc != 0) {
        snprintf(err, errlen, rc == -2 ? "out of memory" : "\"%s\" is not valid hex", key);
        return -1;
    }
    return 0;
}

int jsonio_hex_exact(uint8_t *out, size_t len, const json_t *obj, const char *key, char *err,
                     size_t errlen)
{
    const char *s = jsonio_str(obj, key);
    if (s == NULL) {
        snprintf(err, errlen, "missing or non-string \"%s\"", key);
        return -1;
    }
    if (hex_decode_exact(out, len, s) != 0) {
        snprintf(err, errlen, "\"%s\" is not %zu bytes of hex", key, len);
        return -1;
    }
    return 0;
}

int jsonio_int_or_null(long long *out, const json_t *obj, const char *key, long long null_value,
                       char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_null(v)) {
        *out = null_value;
        return 0;
    }
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "missing or non-integer \"%s\"", key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int jsonio_op_append(op_list *list, const json_t *obj, char *err, size_t errlen)
{
    bt_op_type type;
    const char *name = jsonio_str(obj, "op");
    if (!json_is_object(obj) || name == NULL) {
        snprintf(err, errlen, "operation is not an object with an \"op\" string");
        return -1;
    }
    if (bt_op_parse(&type, name) != 0) {
        snprintf(err, errlen, "unknown operation \"%s\"", name);
        return -1;
    }
    const char *key = jsonio_str(obj, "key");
    const char *value = jsonio_str(obj, "value");
    int needs_value = type == BT_OP_INSERT || type == BT_OP_UPDATE ||
                      type == BT_OP_INSERT_OR_UPDATE;
    if (key == NULL || (needs_value && value == NULL)) {
        snprintf(err, errlen, "%s needs \"key\"%s as hex strings", name,
                 needs_value ? " and \"value\"" : "");
        return -1;
    }
    if (!needs_value)
        value = "";
    size_t klen = strlen(key) / 2, vlen = strlen(value) / 2;
    uint8_t *bytes = malloc(klen + vlen + 1);
    if (bytes == NULL || grow(list, err, errlen) != 0) {
        free(bytes);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (hex_decode_exact(bytes, klen, key) != 0 || hex_decode_exact(bytes + klen, vlen, value) != 0) {
        free(bytes);
        snprintf(err, errlen, "%s: key or value is not valid hex", name);
        return -1;
    }
    bt_op *op = &list->ops[list->n];
    op->type = type;
    op->key = bytes;
    op->key_len = klen;
    op->value = needs_value ? bytes + klen : NULL;
    op->value_len = vlen;
    list->bytes[list->n++] = bytes;
    return 0;
}

int jsonio_ops(op_list *list, const json_t *array, char *err, size_t errlen)
{
    if (!json_is_array(array)) {
        snprintf(err, errlen, "\"ops\" is not an array");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(array); i++) {
        char why[200];
        if (jsonio_op_append(list, json_array_get(array, i), why, sizeof why) != 0) {
            snprintf(err, errlen, "op %zu: %s", i, why);
            return -1;
        }
    }
    return 0;
}

int jsonio_params(bt_params *out, const json_t *obj, char *err, size_t errlen)
{
    bt_params p = BT_PARAMS_INIT;
    long long kl, vl;
    if (jsonio_int_or_null(&kl, obj, "key_length", -1, err, errlen) != 0)
        return -1;
    if (jsonio_int_or_null(&vl, obj, "value_length", -1, err, errlen) != 0)
        return -1;
    /* Out-of-range lengths are passed through clamped so that the library,
     * not this parser, decides what it rejects. */
    if (kl < 0 || kl > 100000) {
        snprintf(err, errlen, "\"key_length\" missing or out of range");
        return -1;
    }
    p.key_len = (unsigned)kl;
    p.value_len = vl < 0 ? BT_VALUE_VARIABLE : vl > (long long)UINT32_MAX - 1 ? UINT32_MAX - 1
                                                                             : (uint32_t)vl;
    *out = p;
    return 0;
}

int jsonio_result_ok(const json_t *expected)
{
    return json_is_true(json_object_get(expected, "ok"));
}

int jsonio_result_matches(const json_t *expected, const bt_result *got, char *why, size_t whylen)
{
    if (!json_is_object(expected)) {
        snprintf(why, whylen, "expected result is not an object");
        return 0;
    }
    if (!jsonio_result_ok(expected)) {
        const char *want = jsonio_str(expected, "error");
        const char *have = got->status == 0 ? "ok" : bt_error_class(got->status);
        if (have == NULL)
            have = bt_strerror(got->status);
        if (want == NULL || strcmp(want, have) != 0) {
            snprintf(why, whylen, "expected error %s, got %s", want ? want : "(none)", have);
            return 0;
        }
        return 1;
    }
    if (got->status != 0) {
        const char *cls = bt_error_class(got->status);
        snprintf(why, whylen, "expected ok, got error %s", cls ? cls : bt_strerror(got->status));
        return 0;
    }
    const json_t *old = json_object_get(expected, "old");
    if (json_is_null(old)) {
        if (got->found) {
            snprintf(why, whylen, "expected old=null, got a %zu-byte value", got->old_len);
            return 0;
        }
        return 1;
    }
    const char *want = json_string_value(old);
    if (want == NULL) {
        snprintf(why, whylen, "expected \"old\" is neither null nor a string");
        return 0;
    }
    if (!got->found) {
        snprintf(why, whylen, "expected old=%.40s%s, got null", want, strlen(want) > 40 ? "..." : "");
        return 0;
    }
    if (!hex_equals(got->old, got->old_len, want)) {
        char *have = hex_encode(got->old, got->old_len > 20 ? 20 : got->old_len);
        snprintf(why, whylen, "expected old=%.40s%s, got %s%s (%zu bytes)", want,
                 strlen(want) > 40 ? "..." : "", have ? have : "?", got->old_len > 20 ? "..." : "",
                 got->old_len);
        free(have);
        return 0;
    }
    return 1;
}

json_t *jsonio_result(const bt_result *r)
{
    if (r->status != 0) {
        const char *cls = bt_error_class(r->status);
        return json_pack("{s:b,s:s}", "ok", 0, "error", cls ? cls : bt_strerror(r->status));
    }
    if (!r->found)
        return json_pack("{s:b,s:n}", "ok", 1, "old");
    char *hex = hex_encode(r->old, r->old_len);
    if (hex == NULL)
        return NULL;
    json_t *obj = json_pack("{s:b,s:s}", "ok", 1, "old", hex);
    free(hex);
    return obj;
}

json_t *jsonio_hexstr(const uint8_t *p, size_t n)
{
    char *h = hex_encode(p, n);
    json_t *s = h ? json_string(h) : NULL;
    free(h);
    return s ? s : json_null();
}

void jsonio_print(json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(obj);
}
