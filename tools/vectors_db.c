/*
 * vectors_db.c -- "vectors check --db DIR": the prover scenarios of the
 * reference vectors run through the persistent store.
 *
 * Each scenario gets a fresh tree in the database (named vNNNN-SCENARIO, the
 * scenario name cut to the allowed characters).  Each batch line is one
 * transaction, and is checked in this order:
 *   1. the committed digest is the batch's start_digest;
 *   2. bt_db_prove of the whole batch (a what-if) gives the reference
 *      results, proof and end digest, and changes nothing;
 *   3. bt_txn_apply gives the reference results; bt_txn_prove gives the
 *      reference proof and end digest; bt_txn_commit;
 *   4. bt_db_digest is end_digest (the first line where it is not marks the
 *      scenario diverged), bt_db_count is num_keys, the height byte is height;
 *   5. small trees get bt_db_check;
 *   6. every reopen_every batches the database is closed and reopened, and
 *      the digest and key count must be what they were.
 * The reference proof through the verifier is checked by the caller, as for
 * in-memory trees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "cli.h"
#include "vectors.h"

#define SMALL_TREE_KEYS 63

/* Fails unless the committed digest of the scenario's tree is want_hex. */
static void expect_db_digest(checker *c, report *r, const char *what, const char *want_hex)
{
    uint8_t digest[BT_DIGEST_LEN];
    int rc = bt_db_digest(digest, c->db, c->db_tree);
    if (rc != 0)
        report_add(r, 0, "%s: bt_db_digest: %s (%s)", what, bt_strerror(rc), bt_db_errmsg(c->db));
    else
        expect_bytes(r, what, digest, sizeof digest, want_hex);
}

static void expect_db_count(checker *c, report *r, const json_t *line)
{
    long long keys;
    uint64_t count = 0;
    char err[200];
    int rc = bt_db_count(&count, c->db, c->db_tree);
    if (rc != 0)
        report_add(r, 0, "bt_db_count: %s", bt_strerror(rc));
    else if (jsonio_int_or_null(&keys, line, "num_keys", -1, err, sizeof err) != 0)
        report_add(r, 0, "%s", err);
    else if ((uint64_t)keys != count)
        report_add(r, 0, "num_keys %llu, want %lld", (unsigned long long)count, keys);
}

void db_check_scenario(checker *c, const json_t *line, report *r)
{
    size_t at;
    if (c->db == NULL) {
        report_add(r, 0, "the database is not open (an earlier reopen failed)");
        return;
    }
    at = (size_t)snprintf(c->db_tree, sizeof c->db_tree, "v%04lu-", ++c->db_trees);
    for (const char *p = c->scenario; *p != '\0' && at < 64; p++, at++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '-';
        c->db_tree[at] = ok ? ch : '_';
    }
    c->db_tree[at] = '\0';
    int rc = bt_db_tree_create(c->db, c->db_tree, &c->params);
    if (rc != 0) {
        report_add(r, 0, "bt_db_tree_create %s: %s (%s)", c->db_tree, bt_strerror(rc),
                   bt_db_errmsg(c->db));
        return;
    }
    c->db_in_scenario = 1;
    expect_db_digest(c, r, "initial digest", jsonio_str(line, "initial_digest"));
}

/* Step 2: the what-if proof of the batch against the committed version. */
static void db_check_whatif(checker *c, const json_t *line, const op_list *ops, report *r)
{
    const json_t *want = json_object_get(line, "results");
    bt_result *res = calloc(ops->n + 1, sizeof *res);
    uint8_t *proof = NULL, digest[BT_DIGEST_LEN];
    size_t proof_len = 0;
    if (res == NULL) {
        report_add(r, 0, "out of memory");
        return;
    }
    int rc = bt_db_prove(&proof, &proof_len, digest, res, c->db, c->db_tree, ops->ops, ops->n);
    if (rc != 0) {
        report_add(r, 0, "bt_db_prove: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
    } else {
        for (size_t i = 0; i < ops->n; i++)
            if (!expect_result(r, "what-if", i, &ops->ops[i], json_array_get(want, i), &res[i]))
                break;
        expect_bytes(r, "what-if proof", proof, proof_len, jsonio_str(line, "proof"));
        expect_bytes(r, "what-if digest", digest, sizeof digest, jsonio_str(line, "end_digest"));
        expect_db_digest(c, r, "digest after what-if", jsonio_str(line, "start_digest"));
    }
    bt_free(proof); /* after the results: their old pointers live in it */
    free(res);
}

/* Step 3: the transaction.  Returns 0 if it committed. */
static int db_check_txn(checker *c, const json_t *line, const op_list *ops, report *r)
{
    const json_t *want = json_object_get(line, "results");
    bt_result *res = calloc(ops->n + 1, sizeof *res);
    uint8_t *proof = NULL, digest[BT_DIGEST_LEN];
    size_t proof_len = 0;
    bt_txn *txn = NULL;
    int rc;
    if (res == NULL) {
        report_add(r, 0, "out of memory");
        return -1;
    }
    if ((rc = bt_txn_begin(&txn, c->db)) != 0) {
        report_add(r, 0, "bt_txn_begin: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
        goto done;
    }
    if ((rc = bt_txn_apply(txn, c->db_tree, ops->ops, ops->n, res)) != 0) {
        report_add(r, 0, "bt_txn_apply: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
        goto done;
    }
    for (size_t i = 0; i < ops->n; i++)
        if (!expect_result(r, "txn", i, &ops->ops[i], json_array_get(want, i), &res[i]))
            break;
    if ((rc = bt_txn_prove(&proof, &proof_len, digest, txn, c->db_tree)) != 0) {
        report_add(r, 0, "bt_txn_prove: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
        goto done;
    }
    expect_bytes(r, "proof", proof, proof_len, jsonio_str(line, "proof"));
    expect_bytes(r, "bt_txn_prove digest", digest, sizeof digest, jsonio_str(line, "end_digest"));
    rc = bt_txn_commit(txn, NULL);
    txn = NULL;
    if (rc != 0)
        report_add(r, 0, "bt_txn_commit: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
done:
    bt_txn_abort(txn);
    bt_free(proof);
    free(res);
    return rc == 0 ? 0 : -1;
}

int db_reopen(checker *c, report *r)
{
    uint8_t before[BT_DIGEST_LEN], after[BT_DIGEST_LEN];
    uint64_t count_before = 0, count_after = 0;
    char msg[512] = "";
    int have = c->db_in_scenario &&
               bt_db_digest(before, c->db, c->db_tree) == 0 &&
               bt_db_count(&count_before, c->db, c->db_tree) == 0;
    int rc = bt_db_close(c->db);
    c->db = NULL;
    if (rc != 0) {
        report_add(r, 0, "reopen: bt_db_close: %s", bt_strerror(rc));
        return -1;
    }
    rc = bt_db_open(&c->db, c->db_dir, c->db_opts, msg, sizeof msg);
    if (rc != 0) {
        report_add(r, 0, "reopen: bt_db_open: %s (%s)", bt_strerror(rc), msg);
        c->db = NULL;
        return -1;
    }
    if (!have)
        return 0;
    if ((rc = bt_db_digest(after, c->db, c->db_tree)) != 0 ||
        (rc = bt_db_count(&count_after, c->db, c->db_tree)) != 0) {
        report_add(r, 0, "after reopen: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
        return -1;
    }
    if (memcmp(before, after, sizeof before) != 0) {
        report_add(r, 0, "digest after reopen differs from the one before");
        return -1;
    }
    if (count_before != count_after) {
        report_add(r, 0, "key count after reopen %llu, before %llu",
                   (unsigned long long)count_after, (unsigned long long)count_before);
        return -1;
    }
    return 0;
}

void db_check_prover_batch(checker *c, const json_t *line, const op_list *ops, report *r)
{
    uint8_t digest[BT_DIGEST_LEN];
    long long height;
    char err[200];
    if (c->db == NULL) {
        report_add(r, 0, "the database is not open (an earlier reopen failed)");
        return;
    }
    expect_db_digest(c, r, "start_digest", jsonio_str(line, "start_digest"));
    db_check_whatif(c, line, ops, r);
    if (db_check_txn(c, line, ops, r) != 0)
        return;
    size_t digest_before = r->len;
    expect_db_digest(c, r, "end_digest", jsonio_str(line, "end_digest"));
    if (r->len != digest_before && c->diverged_line == 0)
        c->diverged_line = c->line;
    if (bt_db_digest(digest, c->db, c->db_tree) == 0 &&
        jsonio_int_or_null(&height, line, "height", -1, err, sizeof err) == 0 && height >= 0 &&
        height != digest[BT_DIGEST_LEN - 1])
        report_add(r, 0, "height %u, want %lld", digest[BT_DIGEST_LEN - 1], height);
    expect_db_count(c, r, line);
    uint64_t count = 0;
    int rc;
    if (bt_db_count(&count, c->db, c->db_tree) == 0 && count <= SMALL_TREE_KEYS &&
        (rc = bt_db_check(c->db, c->db_tree)) != 0)
        report_add(r, 0, "bt_db_check: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
    if (c->reopen_every > 0 && c->batches % c->reopen_every == 0)
        db_reopen(c, r);
}

void db_check_scenario_end(checker *c, const json_t *line, report *r)
{
    if (c->db == NULL) {
        report_add(r, 0, "the database is not open (an earlier reopen failed)");
        return;
    }
    expect_db_digest(c, r, "final_digest", jsonio_str(line, "final_digest"));
    int rc = bt_db_check(c->db, c->db_tree); /* once per scenario, whatever the size */
    if (rc != 0)
        report_add(r, 0, "bt_db_check: %s (%s)", bt_strerror(rc), bt_db_errmsg(c->db));
    expect_db_count(c, r, line);
}
