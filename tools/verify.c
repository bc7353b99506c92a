/*
 * verify.c -- "basis-trees verify": checks a batch proof against a starting
 * digest, the way a light client (or an ErgoScript AvlTree method) does.
 *
 *   basis-trees verify --digest HEX --proof HEX|@FILE --ops FILE|-
 *                      [--params KL:VL] [--max-ops N] [--max-deletes N]
 *                      [--expect HEX]
 *
 * Operations are JSON lines in the vectors' op format.  Prints one result
 * object per operation and the resulting digest; exits 1 if the proof is
 * rejected (or the digest differs from --expect).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "cli.h"
#include "hex.h"
#include "jsonio.h"

static const char verify_usage[] =
    "usage: " CLI_NAME " verify --digest HEX --proof HEX|@FILE --ops FILE|-\n"
    "                          [--params KL:VL] [--max-ops N] [--max-deletes N] [--expect HEX]\n"
    "\n"
    "Verifies a batch proof: rebuilds the proven part of the tree from the proof,\n"
    "checks it against the starting digest (33 bytes: root label || height), then\n"
    "performs the operations.  Prints one JSON result per operation and the\n"
    "resulting digest.  Exit status 1 if the proof is rejected or the digest\n"
    "differs from --expect.\n"
    "\n"
    "  --params KL:VL    key length and value length, VL a number or 'var' (default 32:var)\n"
    "  --ops FILE        one operation per line, e.g. {\"op\":\"Lookup\",\"key\":\"..\"} or\n"
    "                    {\"op\":\"Insert\",\"key\":\"..\",\"value\":\"..\"}; '-' reads stdin\n"
    "  --max-ops N       node budget as Ergo's maxNumOperations (default: unbounded)\n"
    "  --max-deletes N   Ergo's maxDeletes (default: same as --max-ops)\n";

/* Parses "KL:VL" with VL a number or "var". */
static int parse_params(bt_params *out, const char *s)
{
    bt_params p = BT_PARAMS_INIT;
    char kl[16];
    uint64_t k, v;
    const char *colon = strchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof kl)
        return -1;
    memcpy(kl, s, (size_t)(colon - s));
    kl[colon - s] = '\0';
    if (cli_parse_u64(&k, kl) != 0 || k == 0 || k > BT_KEY_LEN_MAX)
        return -1;
    p.key_len = (unsigned)k;
    if (strcmp(colon + 1, "var") == 0)
        p.value_len = BT_VALUE_VARIABLE;
    else if (cli_parse_u64(&v, colon + 1) == 0 && v <= BT_VALUE_LEN_LIMIT)
        p.value_len = (uint32_t)v;
    else
        return -1;
    *out = p;
    return 0;
}

/* Reads the proof: hex on the command line, or "@FILE" holding hex
 * (surrounding whitespace allowed). */
static int load_proof(uint8_t **out, size_t *out_len, const char *arg)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (arg[0] != '@') {
        if (hex_decode(out, out_len, arg) == 0)
            return 0;
        cli_error("verify: --proof is not hex (give HEX or @FILE)");
        return -1;
    }
    if (cli_read_file(&text, &len, arg + 1) != 0) {
        cli_error("verify: cannot read proof file %s: %s", arg + 1, strerror(errno));
        return -1;
    }
    char *start = text + strspn(text, " \t\r\n");
    size_t end = strlen(start);
    while (end > 0 && strchr(" \t\r\n", start[end - 1]) != NULL)
        start[--end] = '\0';
    rc = hex_decode(out, out_len, start);
    if (rc != 0)
        cli_error("verify: proof file %s does not hold hex", arg + 1);
    free(text);
    return rc == 0 ? 0 : -1;
}

/* Reads operations, one JSON object per line (blank lines ignored). */
static int load_ops(op_list *ops, const char *path)
{
    char *text = NULL;
    size_t len = 0, lineno = 0;
    if (cli_read_file(&text, &len, path) != 0) {
        cli_error("verify: cannot read ops file %s: %s", path, strerror(errno));
        return -1;
    }
    if (strlen(text) != len) {
        cli_error("verify: ops file %s contains a NUL byte", path);
        free(text);
        return -1;
    }
    for (char *p = text; p != NULL && *p != '\0';) {
        char *nl = strchr(p, '\n');
        char err[200];
        json_error_t jerr;
        lineno++;
        if (nl != NULL)
            *nl = '\0';
        if (p[strspn(p, " \t\r")] != '\0') {
            json_t *obj = json_loads(p, 0, &jerr);
            int rc = obj ? jsonio_op_append(ops, obj, err, sizeof err) : -1;
            json_decref(obj);
            if (rc != 0) {
                cli_error("verify: %s:%zu: %s", path, lineno, obj ? err : jerr.text);
                free(text);
                return -1;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    return 0;
}

/* Runs the verifier and prints results; returns the exit status. */
static int run(const bt_params *params, const bt_verify_opts *opts, const uint8_t *digest,
               size_t digest_len, const uint8_t *proof, size_t proof_len, const op_list *ops,
               const char *expect)
{
    bt_verifier *v = NULL;
    uint8_t out[BT_DIGEST_LEN];
    int rc = bt_verifier_new(&v, params, digest, digest_len, proof, proof_len, opts);
    if (rc != 0) {
        cli_error("verify: rejected: the proof is malformed or does not match the digest: %s",
                  bt_strerror(rc));
        return CLI_FAIL;
    }
    for (size_t i = 0; i < ops->n; i++) {
        bt_result res;
        rc = bt_verifier_apply(v, &ops->ops[i], &res);
        if (rc != 0) {
            cli_error("verify: rejected at op %zu (%s): %s (%s)", i, bt_op_name(ops->ops[i].type),
                      bt_strerror(rc), bt_verifier_errmsg(v));
            bt_verifier_free(v);
            return CLI_FAIL;
        }
        json_t *obj = jsonio_result(&res);
        char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(obj);
    }
    rc = bt_verifier_digest(out, v);
    bt_verifier_free(v);
    if (rc != 0) {
        cli_error("verify: rejected: %s", bt_strerror(rc));
        return CLI_FAIL;
    }
    printf("digest ");
    hex_fprint(stdout, out, sizeof out);
    printf("\n");
    if (expect != NULL && !hex_equals(out, sizeof out, expect)) {
        cli_error("verify: rejected: the digest differs from --expect");
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"params", required_argument, NULL, 'p'}, {"digest", required_argument, NULL, 'd'},
        {"proof", required_argument, NULL, 'P'}, {"ops", required_argument, NULL, 'o'},
        {"max-ops", required_argument, NULL, 'm'}, {"max-deletes", required_argument, NULL, 'D'},
        {"expect", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bt_params params = BT_PARAMS_INIT;
    bt_verify_opts opts = BT_VERIFY_OPTS_INIT;
    const char *digest_hex = NULL, *proof_arg = NULL, *ops_path = NULL, *expect = NULL;
    uint64_t num;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(verify_usage, stdout);
            return CLI_OK;
        case 'p':
            if (parse_params(&params, optarg) != 0)
                return cli_usage_error("verify", "--params wants KL:VL (e.g. 32:var), not '%s'",
                                       optarg);
            break;
        case 'd': digest_hex = optarg; break;
        case 'P': proof_arg = optarg; break;
        case 'o': ops_path = optarg; break;
        case 'e': expect = optarg; break;
        case 'm':
        case 'D':
            if (cli_parse_u64(&num, optarg) != 0 || num > INT64_MAX)
                return cli_usage_error("verify", "bad number '%s'", optarg);
            *(opt == 'm' ? &opts.max_ops : &opts.max_deletes) = (long long)num;
            break;
        case ':':
            return cli_usage_error("verify", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("verify", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
    if (digest_hex == NULL || proof_arg == NULL || ops_path == NULL)
        return cli_usage_error("verify", "--digest, --proof and --ops are required");
    if (expect != NULL && strlen(expect) != 2 * BT_DIGEST_LEN)
        return cli_usage_error("verify", "--expect wants a %d-byte hex digest", BT_DIGEST_LEN);

    uint8_t digest[BT_DIGEST_LEN], *proof = NULL;
    op_list ops = {0};
    int status = CLI_FAIL;
    if (hex_decode_exact(digest, sizeof digest, digest_hex) != 0)
        return cli_usage_error("verify", "--digest wants %d bytes of hex", BT_DIGEST_LEN);
    size_t proof_len = 0;
    if (load_proof(&proof, &proof_len, proof_arg) == 0 && load_ops(&ops, ops_path) == 0)
        status = run(&params, &opts, digest, sizeof digest, proof, proof_len, &ops, expect);
    free(proof);
    op_list_free(&ops);
    return status;
}
