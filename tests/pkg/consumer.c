/* consumer.c -- the smallest client of an installed libbasistrees: built by
 * install_test.sh with `pkg-config --cflags --libs basistrees` (and the
 * static and CMake variants).  Inserts two keys, proves the batch, verifies
 * the proof and checks the digest; exits 0 only if all of that works. */
#include <stdio.h>
#include <string.h>

#include <basistrees.h>

int main(void)
{
    bt_params params = BT_PARAMS_INIT;
    bt_tree *tree = NULL;
    uint8_t start[BT_DIGEST_LEN], end[BT_DIGEST_LEN], verified[BT_DIGEST_LEN];
    uint8_t k1[32], k2[32], *proof = NULL;
    size_t proof_len = 0;
    memset(k1, 0x11, sizeof k1);
    memset(k2, 0x22, sizeof k2);
    bt_op ops[2] = {{BT_OP_INSERT, k1, 32, (const uint8_t *)"one", 3},
                    {BT_OP_INSERT, k2, 32, (const uint8_t *)"two", 3}};
    bt_result res[2];
    int rc;

    if (strcmp(bt_version(), BT_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", BT_VERSION_STRING, bt_version());
        return 1;
    }
    if ((rc = bt_tree_new(&tree, &params)) != 0 || (rc = bt_tree_digest(start, tree)) != 0 ||
        (rc = bt_tree_apply_batch(tree, ops, 2, res)) != 0 ||
        (rc = bt_tree_prove(&proof, &proof_len, tree)) != 0 ||
        (rc = bt_tree_digest(end, tree)) != 0 ||
        (rc = bt_proof_verify(verified, NULL, &params, start, sizeof start, proof, proof_len, ops,
                              2, NULL)) != 0) {
        fprintf(stderr, "consumer: %s\n", bt_strerror(rc));
        return 1;
    }
    rc = memcmp(end, verified, sizeof end) != 0 || res[0].status != 0 || res[1].status != 0 ||
         bt_tree_count(tree) != 2;
    printf("consumer: libbasistrees %s, proof %zu bytes, %s\n", bt_version(), proof_len,
           rc ? "MISMATCH" : "verified");
    bt_free(proof);
    bt_tree_free(tree);
    return rc;
}
