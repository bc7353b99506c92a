/*
 * big.h -- the large deterministic scenario of the reference vectors
 * (vectors/README.md, "big_reference.jsonl").
 *
 * All inputs are derived from the seed with Blake2b-256, so the scenario can
 * be rerun anywhere and compared with the reference output line.
 */
#ifndef BT_TOOLS_BIG_H
#define BT_TOOLS_BIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <basistrees.h>

typedef struct big_params {
    uint64_t seed;
    uint64_t n;          /* keys inserted in the first phase          */
    uint64_t batch;      /* operations per proof (>= 1)               */
    uint64_t checkpoint; /* a checkpoint every this many batches (>= 1) */
    int fixed8;          /* 1: fixed 8-byte values; 0: variable 0..32 */
    int full;            /* 1: all five phases; 0: inserts only       */
} big_params;

#define BIG_PARAMS_INIT {0, 1000000, 1000, 100, 0, 0}

/* Runs the scenario.  Returns 0 and the result object (owned by the caller,
 * json_decref), with the same members as a big_reference.jsonl line; or -1
 * with a one-line reason in err. */
int big_run(json_t **out, const big_params *p, char *err, size_t errlen);

/* Where big_run_db keeps the tree: a database and a tree name that does not
 * exist yet.  With reopen_every > 0 the database is closed and reopened
 * (dir and opts) every that many batches, and db is updated. */
typedef struct big_store {
    bt_db *db;
    const char *dir;
    const bt_db_options *opts;
    const char *tree;
    uint64_t reopen_every;
} big_store;

/* As big_run, but through the store: one transaction per batch, the proof
 * from bt_txn_prove, digests from bt_db_digest. */
int big_run_db(json_t **out, const big_params *p, big_store *store, char *err, size_t errlen);

/* Reads the parameters of a big_reference.jsonl line (seed, n, batch_size,
 * values, mode, checkpoint_every).  Returns 0 or -1 with a reason. */
int big_params_from_json(big_params *out, const json_t *line, char *err, size_t errlen);

#endif
