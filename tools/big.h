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

/* Reads the parameters of a big_reference.jsonl line (seed, n, batch_size,
 * values, mode, checkpoint_every).  Returns 0 or -1 with a reason. */
int big_params_from_json(big_params *out, const json_t *line, char *err, size_t errlen);

#endif
