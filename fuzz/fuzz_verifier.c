/*
 * fuzz_verifier.c -- the verifier must survive any proof, digest and op list.
 *
 * Input layout (all integers big-endian):
 *
 *   offset  size  field
 *   0       1     params: bits 0-1 key length {32, 1, 31, 2}
 *                         bit 2    0 = variable values, 1 = fixed 8 bytes
 *                         bits 4-5 budget: 0 none, 1 max_ops only,
 *                                  2 max_ops + max_deletes, 3 max_ops + (-1)
 *   1       2     max_ops      (used when the budget mode says so)
 *   3       1     max_deletes  (used in budget mode 2)
 *   4       33    start digest
 *   37      1     n: number of operations
 *   38      ...   n operations, each:
 *                   1 byte   bits 0-2 op type (6 and 7 are invalid types),
 *                            bit 3 = give the key a wrong length
 *                   KL bytes key (KL-1 if bit 3 and KL > 1, else KL+1)
 *                   for Insert/Update/InsertOrUpdate (and invalid types):
 *                   2 bytes  value length L, then L bytes of value
 *   ...     rest  the proof
 *
 * fuzz/gen_corpus.py writes honest proofs from the reference vectors in this
 * layout.  A short input stops the decode; nothing is run.
 *
 * Checked on every input: no crash or out-of-bounds read (ASan), the
 * documented return codes only, a dead verifier stays dead, the digest is
 * available exactly when every op succeeded, and the one-call
 * bt_proof_verify agrees with the step-by-step API.  Memory stays bounded
 * because every byte the verifier sees comes from the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basistrees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FV_OPS_MAX 255

#define REQUIRE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "fuzz_verifier: check failed at line %d: %s\n", __LINE__, \
                    #c);                                                            \
            abort();                                                                \
        }                                                                           \
    } while (0)

static const unsigned key_lens[4] = {32, 1, 31, 2};

typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor;

static const uint8_t *take(cursor *c, size_t n)
{
    if (c->left < n) return NULL;
    const uint8_t *r = c->p;
    c->p += n;
    c->left -= n;
    return r;
}

static int has_value(unsigned t)
{
    return t == BT_OP_INSERT || t == BT_OP_UPDATE || t == BT_OP_INSERT_OR_UPDATE || t > 5;
}

static int op_error_ok(int rc)
{
    return rc == BT_EEXISTS || rc == BT_ENOTFOUND || rc == BT_EKEYLOW || rc == BT_EKEYHIGH ||
           rc == BT_EKEYLEN || rc == BT_EVALLEN || rc == BT_EPROOF || rc == BT_EINVAL ||
           rc == BT_ENOMEM || rc == BT_ELIMIT;
}

/* Touches every byte of a returned value so ASan sees a bad pointer. */
static unsigned touch(const uint8_t *p, size_t n)
{
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++) acc += p[i];
    return acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cursor c = {data, size};
    const uint8_t *hdr = take(&c, 4);
    if (!hdr) return 0;
    bt_params params = BT_PARAMS_INIT;
    params.key_len = key_lens[hdr[0] & 3];
    params.value_len = (hdr[0] & 4) ? 8 : BT_VALUE_VARIABLE;
    bt_verify_opts opts = BT_VERIFY_OPTS_INIT;
    unsigned budget = (hdr[0] >> 4) & 3;
    if (budget) opts.max_ops = (long long)((unsigned)hdr[1] << 8 | hdr[2]);
    if (budget == 2) opts.max_deletes = hdr[3];
    const uint8_t *digest = take(&c, BT_DIGEST_LEN);
    const uint8_t *np = take(&c, 1);
    if (!digest || !np) return 0;

    static bt_op ops[FV_OPS_MAX];
    size_t n = *np;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *tb = take(&c, 1);
        if (!tb) return 0;
        unsigned t = tb[0] & 7;
        size_t kl = params.key_len;
        if (tb[0] & 8) kl = kl > 1 ? kl - 1 : kl + 1;
        const uint8_t *key = take(&c, kl);
        if (!key) return 0;
        ops[i].type = (bt_op_type)t;
        ops[i].key = key;
        ops[i].key_len = kl;
        ops[i].value = NULL;
        ops[i].value_len = 0;
        if (has_value(t)) {
            const uint8_t *lb = take(&c, 2);
            if (!lb) return 0;
            size_t vl = (size_t)lb[0] << 8 | lb[1];
            const uint8_t *v = take(&c, vl);
            if (!v) return 0;
            ops[i].value = v;
            ops[i].value_len = vl;
        }
    }
    /* The proof gets its own exactly-sized buffer so that a read past its end
     * is caught by ASan even though more input might follow in memory. */
    size_t proof_len = c.left;
    uint8_t *proof = malloc(proof_len ? proof_len : 1);
    REQUIRE(proof != NULL);
    if (proof_len) memcpy(proof, c.p, proof_len);

    /* Step by step. */
    bt_verifier *v = NULL;
    int rc_new = bt_verifier_new(&v, &params, digest, BT_DIGEST_LEN, proof, proof_len, &opts);
    int rc_final;
    size_t failed_at = n;
    uint8_t out1[BT_DIGEST_LEN];
    if (rc_new != 0) {
        REQUIRE(v == NULL);
        REQUIRE(rc_new == BT_EPROOF || rc_new == BT_ELIMIT || rc_new == BT_EINVAL ||
                rc_new == BT_ENOMEM);
        rc_final = rc_new;
    } else {
        REQUIRE(v != NULL);
        REQUIRE(bt_verifier_errmsg(v) != NULL);
        rc_final = 0;
        for (size_t i = 0; i < n; i++) {
            bt_result r;
            memset(&r, 0xA5, sizeof r);
            int rc = bt_verifier_apply(v, &ops[i], &r);
            if (rc == 0) {
                REQUIRE(r.status == 0);
                REQUIRE(r.found == 0 || r.found == 1);
                if (r.found) {
                    REQUIRE(r.old != NULL || r.old_len == 0);
                    if (r.old_len) (void)touch(r.old, r.old_len);
                    if (params.value_len != BT_VALUE_VARIABLE) REQUIRE(r.old_len == 8);
                }
                continue;
            }
            REQUIRE(op_error_ok(rc));
            if (ops[i].type > 5) REQUIRE(rc == BT_EINVAL);
            REQUIRE(bt_verifier_errmsg(v) != NULL);
            rc_final = rc;
            failed_at = i;
            /* Dead from now on. */
            bt_result r2;
            if (i + 1 < n) REQUIRE(bt_verifier_apply(v, &ops[i + 1], &r2) == BT_EBADSTATE);
            REQUIRE(bt_verifier_apply(v, &ops[i], &r2) == BT_EBADSTATE);
            break;
        }
        int rc_d = bt_verifier_digest(out1, v);
        if (rc_final == 0) {
            REQUIRE(rc_d == 0);
        } else {
            REQUIRE(rc_d == BT_EBADSTATE);
        }
        bt_verifier_free(v);
    }

    /* One call: must agree. */
    uint8_t out2[BT_DIGEST_LEN];
    size_t failed2 = (size_t)-1;
    int rc2 = bt_proof_verify(out2, &failed2, &params, digest, BT_DIGEST_LEN, proof, proof_len,
                              ops, n, &opts);
    REQUIRE(rc2 == rc_final);
    REQUIRE(failed2 == failed_at);
    if (rc2 == 0) REQUIRE(memcmp(out1, out2, BT_DIGEST_LEN) == 0);
#ifdef FV_TRACE
    /* Build with -DFV_TRACE to see what each seed does. */
    fprintf(stderr, "fuzz_verifier: n=%zu proof=%zu new=%d final=%d failed_at=%zu\n", n,
            proof_len, rc_new, rc_final, failed_at);
#endif

    /* A digest of the wrong length is always refused up front. */
    if ((hdr[0] & 0xC0) == 0xC0) {
        bt_verifier *v2 = (bt_verifier *)1;
        REQUIRE(bt_verifier_new(&v2, &params, digest, BT_DIGEST_LEN - 1, proof, proof_len,
                                &opts) == BT_EINVAL);
        REQUIRE(v2 == NULL);
    }
    free(proof);
    return 0;
}
