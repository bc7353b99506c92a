/*
 * vectors.h -- what the vector checkers (vectors.c, upstream.c) share.
 */
#ifndef BT_TOOLS_VECTORS_H
#define BT_TOOLS_VECTORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <basistrees.h>

#include "jsonio.h"

/* The verdict on one vector line and why. */
typedef struct report {
    char msg[1024];
    size_t len;
    int failed;  /* at least one check failed                        */
    int skipped; /* cannot be checked (counts only if nothing failed) */
    int quiet;   /* counted but not printed (scenario already diverged) */
} report;

/* State of a run over vector files. */
typedef struct checker {
    const char *path;
    unsigned long line;
    unsigned long passed, failed, skipped;
    /* the current prover scenario */
    bt_tree *tree;
    bt_params params;
    char scenario[96];
    unsigned long batches;       /* batch lines seen in the scenario      */
    unsigned long diverged_line; /* first line whose end digest differed   */
    unsigned long hidden;        /* failing lines not printed since then   */
    /* --db: prover scenarios run through a database (vectors_db.c) */
    bt_db *db;                   /* NULL: in-memory trees                  */
    const char *db_dir;
    const bt_db_options *db_opts;
    unsigned long reopen_every;  /* close and reopen after this many batches (0: never) */
    unsigned long db_trees;      /* trees created so far (names them)      */
    char db_tree[72];            /* the current scenario's tree            */
    int db_in_scenario;
} checker;

/* ---- --db mode (vectors_db.c) ---- */

/* Starts a scenario: creates a fresh tree in c->db and checks its digest. */
void db_check_scenario(checker *c, const json_t *line, report *r);

/* Checks a batch through a transaction: start digest, what-if proof
 * (bt_db_prove), results, bt_txn_prove bytes and digest, committed digest,
 * key count, height; reopens the database every c->reopen_every batches. */
void db_check_prover_batch(checker *c, const json_t *line, const op_list *ops, report *r);

/* Final digest, bt_db_check and key count of the scenario. */
void db_check_scenario_end(checker *c, const json_t *line, report *r);

/* Closes and reopens c->db, comparing every digest before and after.
 * Returns 0, or -1 (reported; c->db is NULL if the open failed). */
int db_reopen(checker *c, report *r);

/* Appends a reason ("; "-separated) and marks the line failed, or skipped
 * when skip is nonzero. */
void report_add(report *r, int skip, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fails unless got[0..got_len) is the bytes of want_hex. */
void expect_bytes(report *r, const char *what, const uint8_t *got, size_t got_len,
                  const char *want_hex);

/* Fails unless the tree's digest is want_hex. */
void expect_tree_digest(report *r, const char *what, bt_tree *tree, const char *want_hex);

/* Fails unless result got of op i agrees with the result object want;
 * returns 1 if it does. */
int expect_result(report *r, const char *what, size_t i, const bt_op *op, const json_t *want,
                  const bt_result *got);

/* Runs the verifier over ops (only those whose expected result is ok when
 * skip_failed) and fails unless every result and the final digest agree. */
void expect_verified(report *r, const char *what, const bt_params *params, const uint8_t *start,
                     size_t start_len, const uint8_t *proof, size_t proof_len, const op_list *ops,
                     const json_t *want_results, int skip_failed, const char *want_digest);

/* What the step-by-step verifier did with one input. */
typedef struct verify_outcome {
    int constructed;  /* bt_verifier_new succeeded                  */
    size_t failed_op; /* index of the failing op, or n              */
    int code;         /* the failing call's error code (0: none)    */
    uint8_t digest[BT_DIGEST_LEN];
    json_t *results;  /* result objects of the ops performed (json_decref) */
} verify_outcome;

void run_verifier(verify_outcome *out, const bt_params *params, const bt_verify_opts *opts,
                  const uint8_t *start, size_t start_len, const uint8_t *proof, size_t proof_len,
                  const op_list *ops);

/* Fails unless the outcome matches a reference object {"outcome":
 * "completed"|"construct_error"|"construct_panic"|"op_error"|"op_panic",
 * "op_index", "digest", "results"}; n is the number of ops. */
void expect_outcome(report *r, const char *what, const verify_outcome *got, size_t n,
                    const json_t *ref);

/* Checks one basis_upstream.jsonl line (upstream.c). */
void check_basis(const json_t *line, report *r);

#endif
