/*
 * upstream.c -- checks of basis_upstream.jsonl: data points taken from the
 * BetterMoneyLabs/basis-tracker repository, each with what the oracle said.
 *
 * Per kind, what this file checks through the public API:
 *   key_derivation        bt_basis_note_key(issuer, recipient) == key
 *   tracker_lookup_proof  the verifier on (tree_digest, proof, Lookup(key)) gives
 *                         reference_check.verifier; the single-entry prover tree
 *                         has tree_digest and proves the lookup with these bytes
 *   reserve_insert_proof  the verifier on (start_digest, proof, ops); the prover
 *                         reproduces proof and end_digest; r5_register decodes
 *                         to r5_decoded and re-encodes byte for byte
 *   avltree_register      register codec both ways; the digest is rebuilt as
 *   tree_digest           the empty or single-entry tree named by
 *                         reference_check.  Without a reference_check the
 *                         tree contents are unknown: the line is skipped.
 *   placeholder_vector    the upstream values are placeholders: the corrected
 *                         reference_values are reproduced (insert proof from
 *                         the empty tree, digest, lookup proof) and verified
 *   update_digest_check   each op type in verifier_results, run by the verifier
 *                         on (committed_digest, proof), gives that outcome
 *   spec_note             the register decodes, and its all-zero digest is
 *                         indeed not the empty-tree digest
 * Other kinds are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "hex.h"
#include "jsonio.h"
#include "vectors.h"

/* Basis trees: 32-byte keys and variable-length values. */
static bt_params basis_params(const json_t *line)
{
    bt_params params = BT_PARAMS_INIT;
    char err[200];
    if (json_object_get(line, "key_length") != NULL)
        (void)jsonio_params(&params, line, err, sizeof err);
    return params;
}

/* A one-operation list built from hex members of obj. */
static int single_op(op_list *ops, const char *op, const json_t *obj, report *r)
{
    char err[200];
    json_t *o = json_pack("{s:s,s:O,s:O*}", "op", op, "key", json_object_get(obj, "key"), "value",
                          json_object_get(obj, "value"));
    int rc = o ? jsonio_op_append(ops, o, err, sizeof err) : -1;
    if (rc != 0)
        report_add(r, 0, "%s", o ? err : "missing \"key\" or \"value\"");
    json_decref(o);
    return rc;
}

/* Creates the tree holding only key -> value (from obj); NULL on failure. */
static bt_tree *single_entry_tree(const bt_params *params, const json_t *obj, report *r)
{
    op_list ops = {0};
    bt_tree *tree = NULL;
    bt_result res;
    int rc = bt_tree_new(&tree, params);
    if (rc != 0) {
        report_add(r, 0, "bt_tree_new: %s", bt_strerror(rc));
        return NULL;
    }
    if (single_op(&ops, "Insert", obj, r) == 0) {
        rc = bt_tree_apply(tree, &ops.ops[0], &res);
        if (rc != 0 || res.status != 0)
            report_add(r, 0, "insert into the empty tree failed: %s",
                       bt_strerror(rc ? rc : res.status));
    }
    op_list_free(&ops);
    if (r->failed) {
        bt_tree_free(tree);
        return NULL;
    }
    return tree;
}

/* Proves the pending operations of tree and compares with want_hex. */
static void expect_proof(report *r, const char *what, bt_tree *tree, const char *want_hex)
{
    uint8_t *proof = NULL;
    size_t len = 0;
    int rc = bt_tree_prove(&proof, &len, tree);
    if (rc != 0)
        report_add(r, 0, "%s: bt_tree_prove: %s", what, bt_strerror(rc));
    else if (want_hex != NULL)
        expect_bytes(r, what, proof, len, want_hex);
    bt_free(proof);
}

/* Decodes a hex member and runs the verifier as expect_verified does. */
static void verify_hex(report *r, const char *what, const bt_params *params, const json_t *obj,
                       const char *start_key, const char *proof_key, const op_list *ops,
                       const json_t *want_results, const char *want_digest)
{
    char err[200];
    uint8_t *start = NULL, *proof = NULL;
    size_t start_len = 0, proof_len = 0;
    if (jsonio_hex(&start, &start_len, obj, start_key, err, sizeof err) != 0 ||
        jsonio_hex(&proof, &proof_len, obj, proof_key, err, sizeof err) != 0)
        report_add(r, 0, "%s: %s", what, err);
    else
        expect_verified(r, what, params, start, start_len, proof, proof_len, ops, want_results, 0,
                        want_digest);
    free(start);
    free(proof);
}

/* Decodes a register, compares it with the decoded object and re-encodes it.
 * Returns 0 and *out, or -1 after reporting. */
static int check_register(bt_avl_register *out, const char *hex, const json_t *decoded, report *r)
{
    uint8_t *bytes = NULL, again[BT_AVL_REGISTER_MAX];
    size_t len = 0, again_len = 0;
    if (hex == NULL || hex_decode(&bytes, &len, hex) != 0) {
        report_add(r, 0, "register missing or not hex");
        return -1;
    }
    int rc = bt_avl_register_decode(out, bytes, len);
    free(bytes);
    if (rc != 0) {
        report_add(r, 0, "bt_avl_register_decode: %s", bt_strerror(rc));
        return -1;
    }
    if (decoded != NULL) {
        const json_t *vl = json_object_get(decoded, "value_length");
        expect_bytes(r, "decoded register digest", out->digest, sizeof out->digest,
                     jsonio_str(decoded, "digest"));
        if (json_integer_value(json_object_get(decoded, "flags")) != out->flags ||
            json_integer_value(json_object_get(decoded, "key_length")) != out->key_len ||
            json_is_null(vl) == (out->has_value_len != 0) ||
            (out->has_value_len && json_integer_value(vl) != out->value_len))
            report_add(r, 0, "decoded register fields differ (flags %u, key_len %u, value_len %s%u)",
                       out->flags, out->key_len, out->has_value_len ? "" : "none/",
                       out->value_len);
    }
    rc = bt_avl_register_encode(again, sizeof again, &again_len, out);
    if (rc != 0)
        report_add(r, 0, "bt_avl_register_encode: %s", bt_strerror(rc));
    else
        expect_bytes(r, "re-encoded register", again, again_len, hex);
    return r->failed ? -1 : 0;
}

/* Rebuilds the tree described by reference_check ("empty" or "single
 * entry") and compares its digest with want (33 bytes). */
static void expect_reproduced(report *r, const json_t *line, const json_t *check,
                              const uint8_t want[BT_DIGEST_LEN])
{
    bt_params params = BT_PARAMS_INIT;
    const char *tree_kind = jsonio_str(check, "tree");
    char *want_hex = hex_encode(want, BT_DIGEST_LEN);
    if (want_hex == NULL || tree_kind == NULL) {
        report_add(r, 1, "%s", jsonio_str(line, "status") ? jsonio_str(line, "status")
                                                           : "no reference_check");
    } else if (strcmp(tree_kind, "empty") == 0) {
        uint8_t empty[BT_DIGEST_LEN];
        int rc = bt_empty_digest(empty, &params);
        if (rc != 0)
            report_add(r, 0, "bt_empty_digest: %s", bt_strerror(rc));
        else
            expect_bytes(r, "empty-tree digest", empty, sizeof empty, want_hex);
    } else if (strcmp(tree_kind, "single entry") == 0) {
        bt_tree *tree = single_entry_tree(&params, check, r);
        if (tree != NULL)
            expect_tree_digest(r, "single-entry digest", tree, want_hex);
        bt_tree_free(tree);
    } else {
        report_add(r, 1, "reference_check tree \"%s\" is not reproducible here", tree_kind);
    }
    free(want_hex);
}

static void check_key_derivation(const json_t *line, report *r)
{
    uint8_t issuer[BT_PUBKEY_LEN], recipient[BT_PUBKEY_LEN], key[BT_NOTE_KEY_LEN];
    char err[200];
    if (jsonio_hex_exact(issuer, sizeof issuer, line, "issuer_pubkey", err, sizeof err) != 0 ||
        jsonio_hex_exact(recipient, sizeof recipient, line, "recipient_pubkey", err,
                         sizeof err) != 0) {
        report_add(r, 0, "%s", err);
        return;
    }
    int rc = bt_basis_note_key(key, issuer, recipient);
    if (rc != 0)
        report_add(r, 0, "bt_basis_note_key: %s", bt_strerror(rc));
    else
        expect_bytes(r, "note key", key, sizeof key, jsonio_str(line, "key"));
}

static void check_tracker_lookup(const json_t *line, report *r)
{
    const json_t *check = json_object_get(line, "reference_check");
    const json_t *ver = json_object_get(check, "verifier");
    bt_params params = basis_params(line);
    op_list ops = {0};
    if (single_op(&ops, "Lookup", line, r) != 0)
        return;
    verify_hex(r, "verifier", &params, line, "tree_digest", "proof", &ops,
               json_object_get(ver, "results"), jsonio_str(ver, "digest"));
    bt_tree *tree = single_entry_tree(&params, line, r);
    if (tree != NULL) {
        bt_result res;
        expect_proof(r, "insert proof", tree, NULL);
        expect_tree_digest(r, "single-entry digest", tree, jsonio_str(line, "tree_digest"));
        int rc = bt_tree_apply(tree, &ops.ops[0], &res);
        if (rc != 0)
            report_add(r, 0, "lookup: %s", bt_strerror(rc));
        else if (json_is_true(json_object_get(check, "oracle_proof_identical")))
            expect_proof(r, "lookup proof", tree, jsonio_str(line, "proof"));
        bt_tree_free(tree);
    }
    op_list_free(&ops);
}

static void check_reserve_insert(const json_t *line, report *r)
{
    char err[200];
    const json_t *check = json_object_get(line, "reference_check");
    const json_t *ver = json_object_get(check, "verifier");
    bt_params params = basis_params(line);
    op_list ops = {0};
    bt_tree *tree = NULL;
    bt_avl_register reg;
    int rc;

    if (jsonio_ops(&ops, json_object_get(line, "ops"), err, sizeof err) != 0) {
        report_add(r, 0, "%s", err);
        return;
    }
    verify_hex(r, "verifier", &params, line, "start_digest", "proof", &ops,
               json_object_get(ver, "results"), jsonio_str(ver, "digest"));
    if ((rc = bt_tree_new(&tree, &params)) != 0) {
        report_add(r, 0, "bt_tree_new: %s", bt_strerror(rc));
    } else {
        expect_tree_digest(r, "start_digest", tree, jsonio_str(line, "start_digest"));
        for (size_t i = 0; i < ops.n; i++) {
            bt_result res;
            if ((rc = bt_tree_apply(tree, &ops.ops[i], &res)) != 0 || res.status != 0)
                report_add(r, 0, "prover op %zu: %s", i, bt_strerror(rc ? rc : res.status));
        }
        if (json_is_true(json_object_get(check, "oracle_proof_identical")))
            expect_proof(r, "prover proof", tree, jsonio_str(line, "proof"));
        expect_tree_digest(r, "end_digest", tree, jsonio_str(line, "end_digest"));
    }
    bt_tree_free(tree);
    if (check_register(&reg, jsonio_str(line, "r5_register"),
                       json_object_get(line, "r5_decoded"), r) == 0)
        expect_bytes(r, "R5 digest vs end_digest", reg.digest, sizeof reg.digest,
                     jsonio_str(line, "end_digest"));
    op_list_free(&ops);
}

static void check_register_line(const json_t *line, report *r)
{
    bt_avl_register reg;
    if (check_register(&reg, jsonio_str(line, "register"), json_object_get(line, "decoded"), r) ==
        0)
        expect_reproduced(r, line, json_object_get(line, "reference_check"), reg.digest);
}

static void check_tree_digest(const json_t *line, report *r)
{
    uint8_t digest[BT_DIGEST_LEN];
    char err[200];
    if (jsonio_hex_exact(digest, sizeof digest, line, "digest", err, sizeof err) != 0)
        report_add(r, 0, "%s", err);
    else
        expect_reproduced(r, line, json_object_get(line, "reference_check"), digest);
}

static void check_placeholder(const json_t *line, report *r)
{
    const json_t *ref = json_object_get(line, "reference_values");
    bt_params params = basis_params(line);
    uint8_t empty[BT_DIGEST_LEN];
    op_list insert = {0}, lookup = {0};
    json_t *inserted = json_pack("[{s:b,s:n}]", "ok", 1, "old");
    json_t *found = json_pack("[{s:b,s:O}]", "ok", 1, "old", json_object_get(line, "value"));
    json_t *vctx = json_pack("{s:O,s:O,s:O}", "insert_proof_from_empty",
                             json_object_get(ref, "insert_proof_from_empty"), "lookup_proof",
                             json_object_get(ref, "lookup_proof"), "digest_after_insert",
                             json_object_get(ref, "digest_after_insert"));
    char *empty_hex = NULL;
    int rc = bt_empty_digest(empty, &params);

    if (rc != 0 || inserted == NULL || found == NULL || vctx == NULL ||
        (empty_hex = hex_encode(empty, sizeof empty)) == NULL ||
        json_object_set_new(vctx, "empty", json_string(empty_hex)) != 0) {
        report_add(r, 0, "reference_values incomplete (or out of memory)");
    } else if (single_op(&insert, "Insert", line, r) == 0 &&
               single_op(&lookup, "Lookup", line, r) == 0) {
        const char *after = jsonio_str(ref, "digest_after_insert");
        bt_tree *tree = single_entry_tree(&params, line, r);
        if (tree != NULL) {
            expect_proof(r, "insert proof", tree, jsonio_str(ref, "insert_proof_from_empty"));
            expect_tree_digest(r, "digest_after_insert", tree, after);
            bt_result res;
            if (bt_tree_apply(tree, &lookup.ops[0], &res) == 0)
                expect_proof(r, "lookup proof", tree, jsonio_str(ref, "lookup_proof"));
            bt_tree_free(tree);
        }
        verify_hex(r, "verify insert", &params, vctx, "empty", "insert_proof_from_empty", &insert,
                   inserted, after);
        verify_hex(r, "verify lookup", &params, vctx, "digest_after_insert", "lookup_proof",
                   &lookup, found, after);
    }
    free(empty_hex);
    json_decref(inserted);
    json_decref(found);
    json_decref(vctx);
    op_list_free(&insert);
    op_list_free(&lookup);
}

static void check_update_digest(const json_t *line, report *r)
{
    const json_t *cases = json_object_get(line, "verifier_results");
    const json_t *ops_json = json_object_get(line, "ops");
    const json_t *want;
    const char *name;
    bt_params params = basis_params(line);
    uint8_t *start = NULL, *proof = NULL;
    size_t start_len = 0, proof_len = 0;
    char err[200];

    if (json_array_size(ops_json) != 1 || !json_is_object(cases) ||
        jsonio_hex(&start, &start_len, line, "committed_digest", err, sizeof err) != 0 ||
        jsonio_hex(&proof, &proof_len, line, "proof", err, sizeof err) != 0) {
        report_add(r, 0, "malformed update_digest_check line");
        goto done;
    }
    json_object_foreach((json_t *)cases, name, want) {
        op_list ops = {0};
        verify_outcome got;
        char what[64];
        snprintf(what, sizeof what, "verifier with %s", name);
        if (single_op(&ops, name, json_array_get(ops_json, 0), r) != 0)
            continue;
        run_verifier(&got, &params, NULL, start, start_len, proof, proof_len, &ops);
        expect_outcome(r, what, &got, ops.n, want);
        /* The upstream question: does the verifier's digest equal the prover's? */
        if (strcmp(name, "InsertOrUpdate") == 0 && got.constructed && got.code == 0)
            expect_bytes(r, "InsertOrUpdate digest vs prover_digest", got.digest,
                         sizeof got.digest, jsonio_str(line, "prover_digest"));
        json_decref(got.results);
        op_list_free(&ops);
    }
done:
    free(start);
    free(proof);
}

static void check_spec_note(const json_t *line, report *r)
{
    bt_avl_register reg;
    bt_params params = BT_PARAMS_INIT;
    uint8_t empty[BT_DIGEST_LEN];
    if (check_register(&reg, jsonio_str(line, "register"), NULL, r) != 0)
        return;
    params.key_len = reg.key_len;
    params.value_len = reg.has_value_len ? reg.value_len : BT_VALUE_VARIABLE;
    int rc = bt_empty_digest(empty, &params);
    if (rc != 0)
        report_add(r, 0, "bt_empty_digest: %s", bt_strerror(rc));
    else if (memcmp(empty, reg.digest, sizeof empty) == 0)
        report_add(r, 0, "the note's register digest is the real empty digest after all");
}

void check_basis(const json_t *line, report *r)
{
    static const struct {
        const char *kind;
        void (*check)(const json_t *line, report *r);
    } kinds[] = {
        {"key_derivation", check_key_derivation},
        {"tracker_lookup_proof", check_tracker_lookup},
        {"reserve_insert_proof", check_reserve_insert},
        {"avltree_register", check_register_line},
        {"tree_digest", check_tree_digest},
        {"placeholder_vector", check_placeholder},
        {"update_digest_check", check_update_digest},
        {"spec_note", check_spec_note},
    };
    const char *kind = jsonio_str(line, "kind");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) {
            kinds[i].check(line, r);
            return;
        }
    report_add(r, 1, "unknown kind \"%s\"", kind);
}
