/*
 * fuzz_jsonl.c -- the CLI's JSON-lines operation parser (tools/jsonio.c,
 * compiled into this target) on arbitrary text.
 *
 * Each input line is parsed with jansson; an object with an "ops" array goes
 * through jsonio_ops, any other object through jsonio_op_append and
 * jsonio_params.  Properties (abort() on violation):
 *   1. no out-of-bounds access, UB or leak (ASan/UBSan/LSan); the parser
 *      returns 0 or -1 with a message, never aborts;
 *   2. every accepted operation has a known type, a value exactly when the
 *      type needs one, and its key/value re-encode (lower-case hex) to the
 *      input strings, case-insensitively;
 *   3. accepted operations are usable: applying them to an in-memory tree
 *      whose parameters they may not fit gives a clean bt_* code.
 *
 * Seeds: fuzz/corpus/fuzz_jsonl/ (replayed as fuzz-replay/fuzz_jsonl).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../tools/hex.c"
#include "../tools/jsonio.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static void hex_same(const uint8_t *b, size_t n, const char *s)
{
    if (!s || strlen(s) != 2 * n) abort();
    char *h = hex_encode(b, n);
    if (!h) return;
    if (strcasecmp(h, s) != 0) abort();
    free(h);
}

static void check_list(const op_list *l, const json_t *objs, int is_array)
{
    for (size_t i = 0; i < l->n; i++) {
        const json_t *o = is_array ? json_array_get(objs, i) : objs;
        const bt_op *op = &l->ops[i];
        int needs = op->type == BT_OP_INSERT || op->type == BT_OP_UPDATE ||
                    op->type == BT_OP_INSERT_OR_UPDATE;
        if (op->type > BT_OP_REMOVE_IF_EXISTS) abort();
        if (needs != (op->value != NULL)) abort();
        hex_same(op->key, op->key_len, jsonio_str(o, "key"));
        if (needs) hex_same(op->value, op->value_len, jsonio_str(o, "value"));
    }
    if (l->n == 0) return;
    bt_params p = BT_PARAMS_INIT;
    p.key_len = l->ops[0].key_len;
    p.value_len = BT_VALUE_VARIABLE;
    bt_tree *t = NULL;
    if (bt_tree_new(&t, &p) != 0) return;
    bt_result *res = calloc(l->n, sizeof *res);
    if (res) {
        int rc = bt_tree_apply_batch(t, l->ops, l->n, res);
        if (rc > 0) abort();
        free(res);
    }
    bt_tree_free(t);
}

static void line(const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &e);
    if (!j) return;
    if (json_is_object(j)) {
        char err[256] = "";
        op_list l = {0};
        json_t *ops = json_object_get(j, "ops");
        int rc;
        if (ops) {
            rc = jsonio_ops(&l, ops, err, sizeof err);
            if (rc == 0) check_list(&l, ops, 1);
        } else {
            rc = jsonio_op_append(&l, j, err, sizeof err);
            if (rc == 0) check_list(&l, j, 0);
        }
        if (rc != 0 && (rc != -1 || !err[0])) abort();
        op_list_free(&l);
        bt_params p;
        err[0] = 0;
        rc = jsonio_params(&p, j, err, sizeof err);
        if (rc != 0 && (rc != -1 || !err[0])) abort();
        if (rc == 0 && p.key_len > 100000) abort();
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    size_t i = 0;
    while (i < size) {
        size_t j = i;
        while (j < size && data[j] != '\n') j++;
        line((const char *)data + i, j - i);
        i = j + 1;
    }
    return 0;
}
