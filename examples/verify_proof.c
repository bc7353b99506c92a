/*
 * verify_proof.c -- check an AVL+ batch proof from the command line, as a
 * light client (or an ErgoScript AvlTree method) would.
 *
 *   cc verify_proof.c $(pkg-config --cflags --libs basistrees) -o verify_proof
 *   ./verify_proof [--key-len N] [--value-len N|var] [--expect DIGEST]
 *                  START_DIGEST PROOF OP...
 *
 * START_DIGEST (33 bytes) and PROOF are hex.  Each OP is NAME:KEY or
 * NAME:KEY:VALUE in hex, NAME one of Lookup, Insert, Update, InsertOrUpdate,
 * Remove, RemoveIfExists.  Defaults: 32-byte keys, variable-length values
 * (the Basis trees).  Prints what each operation found and the digest the
 * proof leads to.  Exit status: 0 verified (and equal to --expect if given),
 * 1 rejected, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#define MAX_OPS 1024
#define MAX_ARG_BYTES (BT_VALUE_LEN_LIMIT + 1)

static int usage(void)
{
    fprintf(stderr, "usage: verify_proof [--key-len N] [--value-len N|var] [--expect DIGEST]\n"
                    "                    START_DIGEST PROOF OP...\n"
                    "  OP: Lookup:KEY | Remove:KEY | RemoveIfExists:KEY |\n"
                    "      Insert:KEY:VALUE | Update:KEY:VALUE | InsertOrUpdate:KEY:VALUE\n");
    return 2;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes n hex characters of s into a new buffer (malloc). */
static uint8_t *unhex(const char *s, size_t n, size_t *out_len)
{
    if (n % 2 != 0 || n / 2 > MAX_ARG_BYTES)
        return NULL;
    uint8_t *buf = malloc(n / 2 + 1);
    if (buf == NULL)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return NULL;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n / 2;
    return buf;
}

static void print_hex(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", buf[i]);
}

/* Parses NAME:KEY[:VALUE]; the key and value buffers are owned by op. */
static int parse_op(bt_op *op, const char *arg)
{
    char name[32];
    const char *c1 = strchr(arg, ':');
    if (c1 == NULL || (size_t)(c1 - arg) >= sizeof name)
        return -1;
    memcpy(name, arg, (size_t)(c1 - arg));
    name[c1 - arg] = '\0';
    memset(op, 0, sizeof *op);
    if (bt_op_parse(&op->type, name) != 0)
        return -1;
    const char *c2 = strchr(c1 + 1, ':');
    int wants_value = op->type == BT_OP_INSERT || op->type == BT_OP_UPDATE ||
                      op->type == BT_OP_INSERT_OR_UPDATE;
    if ((c2 != NULL) != wants_value)
        return -1;
    size_t klen = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    op->key = unhex(c1 + 1, klen, &op->key_len);
    if (op->key == NULL)
        return -1;
    if (c2 != NULL) {
        op->value = unhex(c2 + 1, strlen(c2 + 1), &op->value_len);
        if (op->value == NULL) {
            free((void *)op->key);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    bt_params params = BT_PARAMS_INIT;
    const char *expect = NULL;
    int i = 1;

    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        char *end;
        unsigned long v = strtoul(argv[i + 1], &end, 10);
        if (strcmp(argv[i], "--key-len") == 0 && *end == '\0' && v >= 1 && v <= BT_KEY_LEN_MAX)
            params.key_len = (unsigned)v;
        else if (strcmp(argv[i], "--value-len") == 0 && strcmp(argv[i + 1], "var") == 0)
            params.value_len = BT_VALUE_VARIABLE;
        else if (strcmp(argv[i], "--value-len") == 0 && *end == '\0' && v <= BT_VALUE_LEN_LIMIT)
            params.value_len = (uint32_t)v;
        else if (strcmp(argv[i], "--expect") == 0)
            expect = argv[i + 1];
        else
            return usage();
    }
    int nops = argc - i - 2;
    if (nops < 1 || nops > MAX_OPS)
        return usage();

    size_t digest_len = 0, proof_len = 0;
    uint8_t *digest = unhex(argv[i], strlen(argv[i]), &digest_len);
    uint8_t *proof = unhex(argv[i + 1], strlen(argv[i + 1]), &proof_len);
    bt_op *ops = calloc((size_t)nops, sizeof *ops);
    int status = 2, parsed = 0;
    if (digest == NULL || digest_len != BT_DIGEST_LEN || proof == NULL || ops == NULL) {
        fprintf(stderr, "verify_proof: START_DIGEST must be 33 bytes of hex, PROOF hex\n");
        goto out;
    }
    for (; parsed < nops; parsed++)
        if (parse_op(&ops[parsed], argv[i + 2 + parsed]) != 0) {
            fprintf(stderr, "verify_proof: bad operation '%s'\n", argv[i + 2 + parsed]);
            goto out;
        }

    /* The verifier rebuilds the proven part of the tree and checks its root
     * against the start digest; then each operation must be supported by it. */
    bt_verifier *v = NULL;
    int rc = bt_verifier_new(&v, &params, digest, digest_len, proof, proof_len, NULL);
    status = 1;
    if (rc != 0) {
        printf("rejected: %s\n", bt_strerror(rc));
        goto out;
    }
    for (int k = 0; k < nops; k++) {
        bt_result res;
        rc = bt_verifier_apply(v, &ops[k], &res);
        if (rc != 0) {
            printf("op %d (%s): rejected: %s (%s)\n", k, bt_op_name(ops[k].type),
                   bt_strerror(rc), bt_verifier_errmsg(v));
            bt_verifier_free(v);
            goto out;
        }
        printf("op %d (%s): ", k, bt_op_name(ops[k].type));
        if (res.found) {
            printf("found ");
            print_hex(res.old, res.old_len);
            printf("\n");
        } else {
            printf("absent\n");
        }
    }
    uint8_t end[BT_DIGEST_LEN];
    rc = bt_verifier_digest(end, v);
    bt_verifier_free(v);
    if (rc != 0) {
        printf("rejected: %s\n", bt_strerror(rc));
        goto out;
    }
    printf("digest: ");
    print_hex(end, sizeof end);
    printf("\n");
    if (expect != NULL) {
        size_t elen = 0;
        uint8_t *e = unhex(expect, strlen(expect), &elen);
        int same = e != NULL && elen == sizeof end && memcmp(e, end, sizeof end) == 0;
        free(e);
        if (!same) {
            printf("rejected: digest differs from --expect\n");
            goto out;
        }
    }
    printf("verified\n");
    status = 0;
out:
    for (int k = 0; k < parsed; k++) {
        free((void *)ops[k].key);
        free((void *)ops[k].value);
    }
    free(ops);
    free(digest);
    free(proof);
    return status;
}
