/*
 * vectors.c -- "basis-trees vectors check" and "basis-trees vectors big".
 *
 * `check` runs reference vector files (their formats are described in the
 * README.md of the vectors directory, ../shared/vectors next to the
 * checkout).  A line's shape says what it is:
 *   "type": "scenario" | "batch" | "scenario_end"   prover_*.jsonl
 *   "type": "verify"                                verifier.jsonl
 *   "kind": ...                                     basis_upstream.jsonl
 *   "final_digest" and "phases"                     big_reference.jsonl
 * Each line counts once: passed, failed (one line on stdout naming file:line
 * and what differed) or skipped (a data point that cannot be reproduced from
 * its published inputs).  The last line is "N passed, N failed[, N skipped]".
 *
 * Prover batches are checked in depth: the what-if proof of the batch first,
 * then every result, the proof bytes, the digest, height and key count, the
 * tree's invariants on small trees (and on every tree at scenario_end), and
 * finally the reference proof through the verifier with the succeeded
 * operations.  With --db DIR the prover scenarios (and big lines) run through
 * the persistent store instead (vectors_db.c, big.c).  Once a scenario's tree has
 * diverged from the reference, later failures of that scenario are counted
 * but not printed one by one.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "big.h"
#include "cli.h"
#include "dbcli.h"
#include "hex.h"
#include "jsonio.h"
#include "vectors.h"

/* Trees with at most this many keys get a full bt_tree_check after each
 * batch (the vector files dump such trees). */
#define SMALL_TREE_KEYS 63

void report_add(report *r, int skip, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof r->msg - r->len;
    if (skip)
        r->skipped = 1;
    else
        r->failed = 1;
    if (r->len > 0 && room > 2) {
        memcpy(r->msg + r->len, "; ", 3);
        r->len += 2;
        room -= 2;
    }
    va_start(ap, fmt);
    int n = vsnprintf(r->msg + r->len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < room ? (size_t)n : room - 1;
}

/* ---- comparisons ------------------------------------------------------- */

void expect_bytes(report *r, const char *what, const uint8_t *got, size_t got_len,
                  const char *want_hex)
{
    if (want_hex == NULL) {
        report_add(r, 0, "%s: reference value missing", what);
        return;
    }
    if (hex_equals(got, got_len, want_hex))
        return;
    size_t want_len = strlen(want_hex) / 2, at = 0;
    uint8_t *want = NULL;
    if (hex_decode(&want, &want_len, want_hex) != 0) {
        report_add(r, 0, "%s: reference is not hex", what);
        return;
    }
    while (at < got_len && at < want_len && got[at] == want[at])
        at++;
    free(want);
    if (got_len == BT_DIGEST_LEN && want_len == BT_DIGEST_LEN) {
        char *hex = hex_encode(got, got_len);
        report_add(r, 0, "%s differs: got %s, want %s", what, hex ? hex : "?", want_hex);
        free(hex);
    } else {
        report_add(r, 0, "%s differs: %zu bytes, want %zu; first difference at byte %zu", what,
                   got_len, want_len, at);
    }
}

void expect_tree_digest(report *r, const char *what, bt_tree *tree, const char *want_hex)
{
    uint8_t digest[BT_DIGEST_LEN];
    int rc = bt_tree_digest(digest, tree);
    if (rc != 0)
        report_add(r, 0, "%s: bt_tree_digest: %s", what, bt_strerror(rc));
    else
        expect_bytes(r, what, digest, sizeof digest, want_hex);
}

int expect_result(report *r, const char *what, size_t i, const bt_op *op, const json_t *want,
                  const bt_result *got)
{
    char why[300];
    if (jsonio_result_matches(want, got, why, sizeof why))
        return 1;
    report_add(r, 0, "%s op %zu (%s): %s", what, i, bt_op_name(op->type), why);
    return 0;
}

void expect_verified(report *r, const char *what, const bt_params *params, const uint8_t *start,
                     size_t start_len, const uint8_t *proof, size_t proof_len, const op_list *ops,
                     const json_t *want_results, int skip_failed, const char *want_digest)
{
    bt_verifier *v = NULL;
    int mismatch = 0;
    int rc = bt_verifier_new(&v, params, start, start_len, proof, proof_len, NULL);
    if (rc != 0) {
        report_add(r, 0, "%s: verifier rejected the proof: %s", what, bt_strerror(rc));
        return;
    }
    for (size_t i = 0; i < ops->n; i++) {
        const json_t *want = json_array_get(want_results, i);
        bt_result res;
        if (skip_failed && !jsonio_result_ok(want))
            continue;
        rc = bt_verifier_apply(v, &ops->ops[i], &res);
        if (rc != 0) {
            report_add(r, 0, "%s: op %zu (%s) rejected: %s (%s)", what, i,
                       bt_op_name(ops->ops[i].type), bt_strerror(rc), bt_verifier_errmsg(v));
            bt_verifier_free(v);
            return;
        }
        /* Report the first wrong result only, but finish the batch. */
        if (!mismatch && !expect_result(r, what, i, &ops->ops[i], want, &res))
            mismatch = 1;
    }
    uint8_t digest[BT_DIGEST_LEN];
    rc = bt_verifier_digest(digest, v);
    char label[80];
    snprintf(label, sizeof label, "%s digest", what);
    if (rc != 0)
        report_add(r, 0, "%s: bt_verifier_digest: %s", what, bt_strerror(rc));
    else
        expect_bytes(r, label, digest, sizeof digest, want_digest);
    bt_verifier_free(v);
}

/* ---- prover_*.jsonl ----------------------------------------------------- */

/* 1 inside a prover scenario (in memory or in the database). */
static int in_scenario(const checker *c)
{
    return c->tree != NULL || c->db_in_scenario;
}

static void end_scenario(checker *c)
{
    bt_tree_free(c->tree);
    c->tree = NULL;
    c->db_in_scenario = 0;
    c->batches = 0;
    c->diverged_line = 0;
    c->hidden = 0;
}

static void check_scenario(checker *c, const json_t *line, report *r)
{
    char err[200];
    const char *name = jsonio_str(line, "scenario");
    if (in_scenario(c))
        report_add(r, 0, "scenario %s began before scenario_end of %s", name ? name : "?",
                   c->scenario);
    end_scenario(c);
    snprintf(c->scenario, sizeof c->scenario, "%s", name ? name : "?");
    if (jsonio_params(&c->params, line, err, sizeof err) != 0) {
        report_add(r, 0, "%s", err);
        return;
    }
    if (c->db_dir != NULL) {
        db_check_scenario(c, line, r);
        return;
    }
    int rc = bt_tree_new(&c->tree, &c->params);
    if (rc != 0) {
        report_add(r, 0, "bt_tree_new: %s", bt_strerror(rc));
        return;
    }
    uint8_t empty[BT_DIGEST_LEN];
    rc = bt_empty_digest(empty, &c->params);
    if (rc != 0)
        report_add(r, 0, "bt_empty_digest: %s", bt_strerror(rc));
    else
        expect_bytes(r, "bt_empty_digest", empty, sizeof empty, jsonio_str(line, "initial_digest"));
    expect_tree_digest(r, "initial digest", c->tree, jsonio_str(line, "initial_digest"));
}

/* The what-if proof of the batch must equal the real one, and leave the
 * tree untouched. */
static void check_whatif(checker *c, const json_t *line, const op_list *ops, report *r)
{
    const json_t *want = json_object_get(line, "results");
    bt_result *res = calloc(ops->n + 1, sizeof *res);
    uint8_t *proof = NULL, digest[BT_DIGEST_LEN];
    size_t proof_len = 0;
    if (res == NULL) {
        report_add(r, 0, "out of memory");
        return;
    }
    int rc = bt_tree_whatif(&proof, &proof_len, digest, res, c->tree, ops->ops, ops->n);
    if (rc != 0) {
        report_add(r, 0, "bt_tree_whatif: %s (%s)", bt_strerror(rc), bt_tree_errmsg(c->tree));
        free(res);
        return;
    }
    for (size_t i = 0; i < ops->n; i++)
        if (!expect_result(r, "what-if", i, &ops->ops[i], json_array_get(want, i), &res[i]))
            break;
    expect_bytes(r, "what-if proof", proof, proof_len, jsonio_str(line, "proof"));
    expect_bytes(r, "what-if digest", digest, sizeof digest, jsonio_str(line, "end_digest"));
    expect_tree_digest(r, "digest after what-if", c->tree, jsonio_str(line, "start_digest"));
    bt_free(proof);
    free(res);
}

/* Applies the batch to the scenario's tree and compares results, proof,
 * digest, height and key count. */
static void check_prover_batch(checker *c, const json_t *line, const op_list *ops, report *r)
{
    const json_t *want = json_object_get(line, "results");
    int mismatch = 0;
    expect_tree_digest(r, "start_digest", c->tree, jsonio_str(line, "start_digest"));
    check_whatif(c, line, ops, r);
    for (size_t i = 0; i < ops->n; i++) {
        bt_result res;
        int rc = bt_tree_apply(c->tree, &ops->ops[i], &res);
        if (rc != 0) {
            report_add(r, 0, "bt_tree_apply op %zu: %s (%s)", i, bt_strerror(rc),
                       bt_tree_errmsg(c->tree));
            break;
        }
        if (!mismatch)
            mismatch = !expect_result(r, "prover", i, &ops->ops[i], json_array_get(want, i), &res);
    }
    uint8_t *proof = NULL;
    size_t proof_len = 0;
    int rc = bt_tree_prove(&proof, &proof_len, c->tree);
    if (rc != 0)
        report_add(r, 0, "bt_tree_prove: %s (%s)", bt_strerror(rc), bt_tree_errmsg(c->tree));
    else
        expect_bytes(r, "proof", proof, proof_len, jsonio_str(line, "proof"));
    bt_free(proof);
    size_t digest_before = r->len;
    expect_tree_digest(r, "end_digest", c->tree, jsonio_str(line, "end_digest"));
    if (r->len != digest_before && c->diverged_line == 0)
        c->diverged_line = c->line;
    long long height, keys;
    char err[200];
    if (jsonio_int_or_null(&height, line, "height", -1, err, sizeof err) == 0 &&
        height != (long long)bt_tree_height(c->tree))
        report_add(r, 0, "height %u, want %lld", bt_tree_height(c->tree), height);
    if (jsonio_int_or_null(&keys, line, "num_keys", -1, err, sizeof err) != 0)
        report_add(r, 0, "%s", err);
    else if ((uint64_t)keys != bt_tree_count(c->tree))
        report_add(r, 0, "num_keys %llu, want %lld", (unsigned long long)bt_tree_count(c->tree),
                   keys);
    if (bt_tree_count(c->tree) <= SMALL_TREE_KEYS && (rc = bt_tree_check(c->tree)) != 0)
        report_add(r, 0, "bt_tree_check: %s (%s)", bt_strerror(rc), bt_tree_errmsg(c->tree));
}

static void check_batch(checker *c, const json_t *line, report *r)
{
    char err[200];
    op_list ops = {0};
    uint8_t start[BT_DIGEST_LEN], *proof = NULL;
    size_t proof_len = 0;
    const json_t *results = json_object_get(line, "results");

    if (!in_scenario(c)) {
        report_add(r, 0, "batch outside a scenario");
        return;
    }
    c->batches++;
    if (c->diverged_line != 0)
        r->quiet = 1;
    if (jsonio_ops(&ops, json_object_get(line, "ops"), err, sizeof err) != 0 ||
        jsonio_hex_exact(start, sizeof start, line, "start_digest", err, sizeof err) != 0 ||
        jsonio_hex(&proof, &proof_len, line, "proof", err, sizeof err) != 0) {
        report_add(r, 0, "%s", err);
    } else if (!json_is_array(results) || json_array_size(results) != ops.n) {
        report_add(r, 0, "\"results\" is not an array of one result per op");
    } else {
        if (c->db_dir != NULL)
            db_check_prover_batch(c, line, &ops, r);
        else
            check_prover_batch(c, line, &ops, r);
        expect_verified(r, "verifier", &c->params, start, sizeof start, proof, proof_len, &ops,
                        results, 1, jsonio_str(line, "end_digest"));
    }
    free(proof);
    op_list_free(&ops);
}

static void check_scenario_end(checker *c, const json_t *line, report *r)
{
    long long keys, batches;
    char err[200];
    if (!in_scenario(c)) {
        report_add(r, 0, "scenario_end outside a scenario");
        return;
    }
    if (c->db_dir != NULL) {
        db_check_scenario_end(c, line, r);
    } else {
        expect_tree_digest(r, "final_digest", c->tree, jsonio_str(line, "final_digest"));
        int rc = bt_tree_check(c->tree); /* once per scenario, whatever the size */
        if (rc != 0)
            report_add(r, 0, "bt_tree_check: %s (%s)", bt_strerror(rc), bt_tree_errmsg(c->tree));
        if (jsonio_int_or_null(&keys, line, "num_keys", -1, err, sizeof err) != 0)
            report_add(r, 0, "%s", err);
        else if ((uint64_t)keys != bt_tree_count(c->tree))
            report_add(r, 0, "num_keys %llu, want %lld",
                       (unsigned long long)bt_tree_count(c->tree), keys);
    }
    if (jsonio_int_or_null(&batches, line, "batches", -1, err, sizeof err) == 0 &&
        batches != (long long)c->batches)
        report_add(r, 0, "scenario had %lu batch lines, want %lld", c->batches, batches);
    if (c->hidden > 0)
        printf("%s:%lu: %lu more failing batches of scenario %s not shown (diverged at line %lu)\n",
               c->path, c->line, c->hidden, c->scenario, c->diverged_line);
    end_scenario(c);
}

/* ---- verifier.jsonl ----------------------------------------------------- */

void run_verifier(verify_outcome *out, const bt_params *params, const bt_verify_opts *opts,
                         const uint8_t *start, size_t start_len, const uint8_t *proof,
                         size_t proof_len, const op_list *ops)
{
    bt_verifier *v = NULL;
    memset(out, 0, sizeof *out);
    out->failed_op = ops->n;
    out->results = json_array();
    out->code = bt_verifier_new(&v, params, start, start_len, proof, proof_len, opts);
    if (out->code != 0)
        return;
    out->constructed = 1;
    for (size_t i = 0; i < ops->n; i++) {
        bt_result res;
        out->code = bt_verifier_apply(v, &ops->ops[i], &res);
        if (out->code != 0) {
            out->failed_op = i;
            break;
        }
        json_array_append_new(out->results, jsonio_result(&res));
    }
    if (out->code == 0)
        out->code = bt_verifier_digest(out->digest, v);
    bt_verifier_free(v);
}

void expect_outcome(report *r, const char *what, const verify_outcome *got, size_t n,
                    const json_t *ref)
{
    const char *outcome = jsonio_str(ref, "outcome");
    const json_t *index = json_object_get(ref, "op_index");
    if (outcome == NULL) {
        report_add(r, 0, "%s: reference has no outcome", what);
    } else if (strcmp(outcome, "completed") == 0) {
        if (!got->constructed) {
            report_add(r, 0, "%s: want completed, got construct rejection: %s", what,
                       bt_strerror(got->code));
            return;
        }
        if (got->code != 0) {
            report_add(r, 0, "%s: want completed, got rejection at op %zu: %s", what,
                       got->failed_op, bt_strerror(got->code));
            return;
        }
        char label[80];
        snprintf(label, sizeof label, "%s digest", what);
        expect_bytes(r, label, got->digest, sizeof got->digest, jsonio_str(ref, "digest"));
        if (!json_equal(got->results, json_object_get(ref, "results"))) {
            char *s = json_dumps(got->results, JSON_COMPACT);
            report_add(r, 0, "%s: results differ: got %.200s", what, s ? s : "?");
            free(s);
        }
    } else if (strncmp(outcome, "construct_", 10) == 0) {
        if (got->constructed)
            report_add(r, 0, "%s: want construct rejection (%s), got %s", what, outcome,
                       got->code == 0 ? "completed" : "an op rejection");
    } else if (strncmp(outcome, "op_", 3) == 0 && json_is_integer(index)) {
        long long want_i = json_integer_value(index);
        if (!got->constructed)
            report_add(r, 0, "%s: want %s at op %lld, got construct rejection: %s", what, outcome,
                       want_i, bt_strerror(got->code));
        else if (got->code == 0 || got->failed_op == n)
            report_add(r, 0, "%s: want %s at op %lld, got completed", what, outcome, want_i);
        else if ((long long)got->failed_op != want_i)
            report_add(r, 0, "%s: want %s at op %lld, got rejection at op %zu", what, outcome,
                       want_i, got->failed_op);
    } else {
        report_add(r, 0, "%s: unknown reference outcome \"%s\"", what, outcome);
    }
}

/* bt_proof_verify must decide exactly as the step-by-step verifier did. */
static void expect_one_shot(report *r, const verify_outcome *got, const bt_params *params,
                            const bt_verify_opts *opts, const uint8_t *start, size_t start_len,
                            const uint8_t *proof, size_t proof_len, const op_list *ops)
{
    uint8_t digest[BT_DIGEST_LEN];
    size_t failed = 0;
    int rc = bt_proof_verify(digest, &failed, params, start, start_len, proof, proof_len, ops->ops,
                             ops->n, opts);
    int ok = got->constructed && got->code == 0;
    if ((rc == 0) != ok)
        report_add(r, 0, "bt_proof_verify %s but the step-by-step verifier %s",
                   rc == 0 ? "accepted" : "rejected", ok ? "accepted" : "rejected");
    else if (rc == 0 && memcmp(digest, got->digest, sizeof digest) != 0)
        report_add(r, 0, "bt_proof_verify digest differs from the step-by-step verifier's");
    else if (rc != 0 && failed != got->failed_op)
        report_add(r, 0, "bt_proof_verify failed at op %zu, step-by-step at %zu", failed,
                   got->failed_op);
}

static void check_verify(const json_t *line, report *r)
{
    char err[200];
    bt_params params;
    bt_verify_opts opts = BT_VERIFY_OPTS_INIT;
    op_list ops = {0};
    uint8_t *start = NULL, *proof = NULL;
    size_t start_len = 0, proof_len = 0;
    verify_outcome got = {0};

    if (jsonio_params(&params, line, err, sizeof err) != 0 ||
        jsonio_int_or_null(&opts.max_ops, line, "max_num_operations", -1, err, sizeof err) != 0 ||
        jsonio_int_or_null(&opts.max_deletes, line, "max_deletes", -1, err, sizeof err) != 0 ||
        jsonio_hex(&start, &start_len, line, "start_digest", err, sizeof err) != 0 ||
        jsonio_hex(&proof, &proof_len, line, "proof", err, sizeof err) != 0 ||
        jsonio_ops(&ops, json_object_get(line, "ops"), err, sizeof err) != 0) {
        report_add(r, 0, "%s", err);
        goto done;
    }
    run_verifier(&got, &params, &opts, start, start_len, proof, proof_len, &ops);
    int completed = got.constructed && got.code == 0;
    const json_t *want_completed = json_object_get(line, "verifier_completed");
    if (!json_is_boolean(want_completed))
        report_add(r, 0, "\"verifier_completed\" missing");
    else if (completed != json_is_true(want_completed))
        report_add(r, 0, "verifier_completed %s, want %s", completed ? "true" : "false",
                   completed ? "false" : "true");
    expect_outcome(r, "verifier", &got, ops.n, json_object_get(line, "reference"));
    expect_one_shot(r, &got, &params, &opts, start, start_len, proof, proof_len, &ops);
done:
    json_decref(got.results);
    free(start);
    free(proof);
    op_list_free(&ops);
}

/* ---- big_reference.jsonl ------------------------------------------------ */

static void check_big(checker *c, const json_t *line, report *r)
{
    char err[300];
    big_params p;
    json_t *got = NULL;
    int rc = big_params_from_json(&p, line, err, sizeof err);
    if (rc == 0 && c->db_dir != NULL) {
        char name[72];
        snprintf(name, sizeof name, "v%04lu-big", ++c->db_trees);
        big_store st = {c->db, c->db_dir, c->db_opts, name, c->reopen_every};
        rc = c->db ? big_run_db(&got, &p, &st, err, sizeof err) : -1;
        if (c->db == NULL)
            snprintf(err, sizeof err, "the database is not open");
        c->db = st.db; /* reopened, or NULL if that failed */
    } else if (rc == 0) {
        rc = big_run(&got, &p, err, sizeof err);
    }
    if (rc != 0) {
        report_add(r, 0, "%s", err);
        return;
    }
    if (!json_equal(got, (json_t *)line)) {
        const char *key;
        json_t *want;
        json_object_foreach((json_t *)line, key, want) {
            json_t *have = json_object_get(got, key);
            if (have != NULL && json_equal(have, want))
                continue;
            char *s = have ? json_dumps(have, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            report_add(r, 0, "%s differs: got %.160s", key, s ? s : "(absent)");
            free(s);
        }
        if (!r->failed)
            report_add(r, 0, "output has members the reference lacks");
    }
    json_decref(got);
}

/* ---- the driver --------------------------------------------------------- */

static void check_line(checker *c, const json_t *line, report *r)
{
    const char *type = jsonio_str(line, "type");
    if (!json_is_object(line))
        report_add(r, 0, "line is not a JSON object");
    else if (json_object_get(line, "final_digest") && json_object_get(line, "phases") &&
             (type == NULL || strcmp(type, "big") == 0))
        check_big(c, line, r);
    else if (type == NULL && jsonio_str(line, "kind") != NULL)
        check_basis(line, r);
    else if (type != NULL && strcmp(type, "scenario") == 0)
        check_scenario(c, line, r);
    else if (type != NULL && strcmp(type, "batch") == 0)
        check_batch(c, line, r);
    else if (type != NULL && strcmp(type, "scenario_end") == 0)
        check_scenario_end(c, line, r);
    else if (type != NULL && strcmp(type, "verify") == 0)
        check_verify(line, r);
    else
        report_add(r, 0, "unknown line (type %s)", type ? type : "missing");
}

static void count_line(checker *c, const report *r)
{
    if (r->failed) {
        c->failed++;
        if (r->quiet)
            c->hidden++;
        else
            printf("%s:%lu: %s\n", c->path, c->line, r->msg);
    } else if (r->skipped) {
        c->skipped++;
        printf("%s:%lu: skipped: %s\n", c->path, c->line, r->msg);
    } else {
        c->passed++;
    }
}

static void check_file(checker *c, const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;

    c->path = path;
    c->line = 0;
    if (f == NULL) {
        printf("%s: cannot open: %s\n", path, strerror(errno));
        c->failed++;
        return;
    }
    while ((len = getline(&buf, &cap, f)) >= 0) {
        report r = {0};
        json_error_t jerr;
        c->line++;
        if (strspn(buf, " \t\r\n") == (size_t)len)
            continue;
        json_t *line = json_loadb(buf, (size_t)len, 0, &jerr);
        if (line == NULL)
            report_add(&r, 0, "bad JSON: %s (column %d)", jerr.text, jerr.column);
        else
            check_line(c, line, &r);
        json_decref(line);
        count_line(c, &r);
        fflush(stdout);
    }
    if (ferror(f)) {
        printf("%s:%lu: read error: %s\n", path, c->line, strerror(errno));
        c->failed++;
    }
    if (in_scenario(c)) {
        printf("%s:%lu: file ends inside scenario %s\n", path, c->line, c->scenario);
        c->failed++;
        end_scenario(c);
    }
    free(buf);
    fclose(f);
}

static const char check_usage[] =
    "usage: " CLI_NAME " vectors check FILE... [--db DIR [--reopen-every K] [DATABASE OPTIONS]]\n"
    "\n"
    "Runs reference vector files: prover_*.jsonl (scenarios of batches: results,\n"
    "what-if and real proofs, digests, invariants, and the verifier on each proof),\n"
    "verifier.jsonl (accept/reject, digest and results), basis_upstream.jsonl (Basis\n"
    "data points) and big_reference.jsonl (reruns the large scenario).\n"
    "Prints one line per failing vector (FILE:LINE: what differed) and a final line\n"
    "'N passed, N failed[, N skipped]'.  Exit status 0 only if nothing failed.\n"
    "\n"
    "--db DIR runs the prover scenarios and big lines through a database in DIR\n"
    "(created if missing; each scenario gets a fresh tree): one transaction per\n"
    "batch; the what-if proof (bt_db_prove), the results, the bt_txn_prove proof\n"
    "and digest, the committed digest, key count and height are compared; the\n"
    "database is closed and reopened every K batches (--reopen-every, default 1;\n"
    "0 never) and every digest compared after the reopen.\n"
    "\n" DBOPT_HELP;

/* Opens the --db database for a vector run. */
static int open_vectors_db(checker *c, db_cli *dc, bt_db_options *o, const char *command)
{
    int rc = dbopt_resolve(o, dc, 0, 1, command);
    if (rc != CLI_OK)
        return rc;
    c->db_opts = o;
    if (db_open_cli(&c->db, c->db_dir, o, command) != CLI_OK) {
        dbopt_dispose(dc);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'}, {"reopen-every", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'}, DBOPT_LONGOPTS, {NULL, 0, NULL, 0}};
    checker c = {0};
    db_cli dc = {0};
    bt_db_options o;
    uint64_t reopen = 1;
    int opt, taken;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if ((taken = dbopt_take(&dc, opt, optarg, "vectors check")) != 0) {
            if (taken < 0)
                return CLI_USAGE;
        } else if (opt == 'h') {
            fputs(check_usage, stdout);
            return CLI_OK;
        } else if (opt == 'd') {
            c.db_dir = optarg;
        } else if (opt == 'r') {
            if (cli_parse_u64(&reopen, optarg) != 0 || reopen > ULONG_MAX)
                return cli_usage_error("vectors check", "bad number '%s'", optarg);
        } else if (opt == ':') {
            return cli_usage_error("vectors check", "option '%s' needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error("vectors check", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("vectors check", "needs at least one FILE");
    if (c.db_dir == NULL && (dc.config != NULL || dc.nset > 0))
        return cli_usage_error("vectors check", "database options need --db DIR");
    c.reopen_every = (unsigned long)reopen;
    if (c.db_dir != NULL) {
        int rc = open_vectors_db(&c, &dc, &o, "vectors check");
        if (rc != CLI_OK)
            return rc;
    }
    int nfiles = argc - optind;
    for (int i = optind; i < argc; i++) {
        unsigned long p = c.passed, f = c.failed, s = c.skipped;
        check_file(&c, argv[i]);
        if (nfiles > 1)
            printf("%s: %lu passed, %lu failed, %lu skipped\n", argv[i], c.passed - p,
                   c.failed - f, c.skipped - s);
    }
    if (c.db_dir != NULL) {
        int rc = bt_db_close(c.db);
        if (rc != 0) {
            printf("%s: close: %s\n", c.db_dir, bt_strerror(rc));
            c.failed++;
        }
        dbopt_dispose(&dc);
    }
    printf("%lu passed, %lu failed", c.passed, c.failed);
    if (c.skipped > 0)
        printf(", %lu skipped", c.skipped);
    printf("\n");
    return c.failed == 0 ? CLI_OK : CLI_FAIL;
}

static const char big_usage[] =
    "usage: " CLI_NAME " vectors big [--seed S] [--n N] [--batch B] [--values var|fixed8]\n"
    "                               [--mode inserts|full] [--checkpoint K]\n"
    "                               [--db DIR [--tree NAME] [--reopen-every R]\n"
    "                                [DATABASE OPTIONS]]\n"
    "\n"
    "Runs the large deterministic scenario of the reference vectors and prints one\n"
    "compact JSON line with the same members as big_reference.jsonl.\n"
    "Defaults: S=1, N=1000000, B=1000, var, inserts, K=100.\n"
    "\n"
    "--db DIR runs it through a database in DIR (created if missing) in a new tree\n"
    "(--tree, default 'big'): one commit per batch, proofs from bt_txn_prove,\n"
    "digests from bt_db_digest; --reopen-every R closes and reopens the database\n"
    "every R batches (default 0: never).  The output must be the same.\n"
    "\n" DBOPT_HELP;

static int cmd_big(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'}, {"n", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'}, {"values", required_argument, NULL, 'v'},
        {"mode", required_argument, NULL, 'm'}, {"checkpoint", required_argument, NULL, 'k'},
        {"db", required_argument, NULL, 'd'}, {"tree", required_argument, NULL, 'T'},
        {"reopen-every", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'}, DBOPT_LONGOPTS, {NULL, 0, NULL, 0}};
    big_params p = BIG_PARAMS_INIT;
    big_store st = {NULL, NULL, NULL, "big", 0};
    db_cli dc = {0};
    bt_db_options o;
    int opt, taken;
    p.seed = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        uint64_t *num = opt == 's' ? &p.seed : opt == 'n' ? &p.n : opt == 'b' ? &p.batch
                      : opt == 'k' ? &p.checkpoint : opt == 'r' ? &st.reopen_every : NULL;
        if ((taken = dbopt_take(&dc, opt, optarg, "vectors big")) != 0) {
            if (taken < 0)
                return CLI_USAGE;
        } else if (opt == 'd') {
            st.dir = optarg;
        } else if (opt == 'T') {
            st.tree = optarg;
        } else if (opt == 'h') {
            fputs(big_usage, stdout);
            return CLI_OK;
        } else if (num != NULL) {
            if (cli_parse_u64(num, optarg) != 0)
                return cli_usage_error("vectors big", "bad number '%s'", optarg);
        } else if (opt == 'v' && (strcmp(optarg, "var") == 0 || strcmp(optarg, "fixed8") == 0)) {
            p.fixed8 = strcmp(optarg, "fixed8") == 0;
        } else if (opt == 'm' && (strcmp(optarg, "inserts") == 0 || strcmp(optarg, "full") == 0)) {
            p.full = strcmp(optarg, "full") == 0;
        } else if (opt == 'v' || opt == 'm') {
            return cli_usage_error("vectors big", "bad value '%s' for --%s", optarg,
                                   opt == 'v' ? "values" : "mode");
        } else if (opt == ':') {
            return cli_usage_error("vectors big", "option '%s' needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error("vectors big", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("vectors big", "unexpected argument '%s'", argv[optind]);
    if (p.batch == 0 || p.batch > 10000000 || p.checkpoint == 0 || p.seed > INT64_MAX ||
        p.n > INT64_MAX / 2)
        return cli_usage_error("vectors big", "--batch must be 1..10000000, --checkpoint >= 1");
    if (st.dir == NULL && (dc.config != NULL || dc.nset > 0 || st.reopen_every > 0))
        return cli_usage_error("vectors big", "database options need --db DIR");

    char err[300];
    json_t *out = NULL;
    int rc;
    if (st.dir != NULL) {
        if ((rc = dbopt_resolve(&o, &dc, 0, 1, "vectors big")) != CLI_OK)
            return rc;
        st.opts = &o;
        if (db_open_cli(&st.db, st.dir, &o, "vectors big") != CLI_OK) {
            dbopt_dispose(&dc);
            return CLI_FAIL;
        }
        rc = big_run_db(&out, &p, &st, err, sizeof err);
        int crc = bt_db_close(st.db);
        dbopt_dispose(&dc);
        if (rc == 0 && crc != 0) {
            snprintf(err, sizeof err, "closing the database: %s", bt_strerror(crc));
            json_decref(out);
            rc = -1;
        }
    } else {
        rc = big_run(&out, &p, err, sizeof err);
    }
    if (rc != 0) {
        cli_error("vectors big: %s", err);
        return CLI_FAIL;
    }
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    if (s == NULL) {
        cli_error("vectors big: out of memory");
        return CLI_FAIL;
    }
    printf("%s\n", s);
    free(s);
    return CLI_OK;
}

static const char vectors_usage[] =
    "usage: " CLI_NAME " vectors check FILE... [--db DIR ...]\n"
    "       " CLI_NAME " vectors big [OPTIONS] [--db DIR ...]\n"
    "\n"
    "Reference vectors: 'check' runs vector files, 'big' runs the large\n"
    "deterministic scenario.  See '" CLI_NAME " vectors check --help' and\n"
    "'" CLI_NAME " vectors big --help'.\n";

int cmd_vectors(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("vectors", "needs a subcommand: check or big");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(vectors_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "big") == 0)
        return cmd_big(argc - 1, argv + 1);
    return cli_usage_error("vectors", "unknown subcommand '%s'", argv[1]);
}
