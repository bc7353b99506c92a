/*
 * migrate.c -- basis-trees migrate: rebuilds Basis trees from the upstream
 * tracker's data (an ordered list of note updates) and reports the digest,
 * so an operator can compare it with the digest on chain before switching.
 *
 *   migrate --tracker FILE | --reserve FILE [--format jsonl|csv]
 *           [--expect DIGESTHEX] [--one-tree] [--db DIR --tree NAME [--batch N]]
 *           [--json]
 *
 * Input (one update per line, in the order they happened):
 *   tracker  JSON lines {"issuer_pubkey":hex33,"recipient_pubkey":hex33,
 *            "total_debt":u64,"timestamp":u64}, or CSV
 *            issuer_pubkey,recipient_pubkey,total_debt,timestamp
 *   reserve  {"issuer_pubkey","recipient_pubkey","timestamp","redeemed"}, or
 *            CSV issuer_pubkey,recipient_pubkey,timestamp,redeemed
 * A CSV header line (first field not hex) is skipped; blank lines and lines
 * starting with '#' are ignored.  Numbers may be JSON integers or decimal
 * strings.  Timestamps must not decrease.
 *
 * Each update is InsertOrUpdate(key, value) with key =
 * Blake2b-256(issuer || recipient) (bt_basis_note_key) and value
 * bt_basis_tracker_value(total_debt) or bt_basis_reserve_value(timestamp,
 * redeemed): the upstream tracker stores the latest cumulative values.
 * Tracker: one tree.  Reserve: one tree per issuer, as upstream keeps them
 * (or one tree for all with --one-tree).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>
#include <jansson.h>

#include "cli.h"
#include "hex.h"
#include "ops_cmds.h"

#define MIG_LINE_MAX (64u * 1024u)
#define MIG_ISSUERS_MAX 100000u
#define MIG_BATCH_DEFAULT 10000u

static const char migrate_usage[] =
    "usage: " CLI_NAME " migrate DIR [--json]\n"
    "       " CLI_NAME " migrate --tracker FILE | --reserve FILE [--format jsonl|csv]\n"
    "                       [--expect DIGESTHEX] [--one-tree] [--json]\n"
    "                       [--db DIR --tree NAME [--batch N]]\n"
    "\n"
    "migrate DIR upgrades a database written by an older version to the current\n"
    "on-disk format: it upgrades a copy (DIR.migrating), validates every tree's\n"
    "digest and count, the sequence numbers and the checkpoints against the\n"
    "original, and only then swaps; the original is kept as DIR.format<N>-<time>.\n"
    "\n"
    "Rebuilds a Basis tree from the upstream tracker's ordered note updates and prints\n"
    "its digest and SAvlTree register (R5, flags insert+update), to compare with the\n"
    "digest on chain before switching.\n"
    "  --tracker FILE   lines: issuer_pubkey, recipient_pubkey, total_debt, timestamp\n"
    "  --reserve FILE   lines: issuer_pubkey, recipient_pubkey, timestamp, redeemed;\n"
    "                   one tree per issuer (--one-tree: a single tree)\n"
    "  --format F       jsonl (default) or csv (default for *.csv)\n"
    "  --expect HEX     exit 1 unless the (single) tree's digest is HEX (a 33-byte\n"
    "                   digest, or the R5 register value 64... as read from the chain)\n"
    "  --db DIR --tree NAME   also write the tree into database DIR (created if\n"
    "                   missing; the tree must not exist), --batch N updates per commit\n"
    "FILE '-' reads standard input.  Updates apply as InsertOrUpdate, in file order;\n"
    "timestamps must not decrease.\n";

typedef struct upd {
    uint8_t issuer[BT_PUBKEY_LEN], recipient[BT_PUBKEY_LEN];
    uint64_t a, b; /* tracker: total_debt, timestamp; reserve: timestamp, redeemed */
} upd;

typedef struct dest {
    uint8_t issuer[BT_PUBKEY_LEN];
    bt_tree *t;
    uint64_t updates;
} dest;

static int parse_u64_str(uint64_t *out, const char *s)
{
    return cli_parse_u64(out, s);
}

static int json_u64(uint64_t *out, const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) return parse_u64_str(out, json_string_value(v));
    return -1;
}

/* Parses one line into u; returns 0, 1 (skip: header/blank/comment) or -1
 * with a message in err. */
static int parse_line(upd *u, char *line, int csv, int reserve, char *err, size_t errcap)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') return 1;
    const char *f[4];
    if (csv) {
        int k = 0;
        char *save = NULL;
        for (char *tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ' || *tok == '"') tok++;
            char *e = tok + strlen(tok);
            while (e > tok && (e[-1] == ' ' || e[-1] == '"')) *--e = 0;
            if (k == 4) {
                snprintf(err, errcap, "more than 4 fields");
                return -1;
            }
            f[k++] = tok;
        }
        if (k >= 1 && !(f[0][0] >= '0' && f[0][0] <= '9') && !(f[0][0] >= 'a' && f[0][0] <= 'f') &&
            !(f[0][0] >= 'A' && f[0][0] <= 'F'))
            return 1; /* header */
        if (k != 4) {
            snprintf(err, errcap, "expected 4 fields, got %d", k);
            return -1;
        }
        if (hex_decode_exact(u->issuer, BT_PUBKEY_LEN, f[0]) != 0 ||
            hex_decode_exact(u->recipient, BT_PUBKEY_LEN, f[1]) != 0) {
            snprintf(err, errcap, "public keys must be 33 bytes of hex");
            return -1;
        }
        if (parse_u64_str(&u->a, f[2]) != 0 || parse_u64_str(&u->b, f[3]) != 0) {
            snprintf(err, errcap, "numbers must be unsigned 64-bit decimals");
            return -1;
        }
        return 0;
    }
    json_error_t je;
    json_t *o = json_loads(p, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        snprintf(err, errcap, "not a JSON object: %s", o ? "wrong type" : je.text);
        json_decref(o);
        return -1;
    }
    const json_t *is = json_object_get(o, "issuer_pubkey"), *rs = json_object_get(o, "recipient_pubkey");
    int rc = 0;
    if (!json_is_string(is) || !json_is_string(rs) ||
        hex_decode_exact(u->issuer, BT_PUBKEY_LEN, json_string_value(is)) != 0 ||
        hex_decode_exact(u->recipient, BT_PUBKEY_LEN, json_string_value(rs)) != 0) {
        snprintf(err, errcap, "issuer_pubkey and recipient_pubkey must be 33 bytes of hex");
        rc = -1;
    } else if (!reserve && (json_u64(&u->a, o, "total_debt") || json_u64(&u->b, o, "timestamp"))) {
        snprintf(err, errcap, "total_debt and timestamp must be unsigned 64-bit numbers");
        rc = -1;
    } else if (reserve && (json_u64(&u->a, o, "timestamp") || json_u64(&u->b, o, "redeemed"))) {
        snprintf(err, errcap, "timestamp and redeemed must be unsigned 64-bit numbers");
        rc = -1;
    }
    json_decref(o);
    return rc;
}

static dest *find_dest(dest **arr, size_t *n, const uint8_t issuer[BT_PUBKEY_LEN], int per_issuer,
                       int *rc)
{
    for (size_t i = 0; i < *n; i++)
        if (!per_issuer || memcmp((*arr)[i].issuer, issuer, BT_PUBKEY_LEN) == 0) return &(*arr)[i];
    if (*n >= MIG_ISSUERS_MAX) {
        *rc = BT_ELIMIT;
        return NULL;
    }
    dest *g = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!g) {
        *rc = BT_ENOMEM;
        return NULL;
    }
    *arr = g;
    dest *d = &g[(*n)++];
    memset(d, 0, sizeof *d);
    memcpy(d->issuer, issuer, BT_PUBKEY_LEN);
    bt_params p = BT_PARAMS_INIT;
    *rc = bt_tree_new(&d->t, &p);
    if (*rc) (*n)--;
    return *rc ? NULL : d;
}

/* Writes every update of the single destination into database dir/tree. */
static int write_db(const char *dir, const char *tree, const upd *ups, size_t n, int reserve,
                    uint64_t batch, uint8_t out_digest[BT_DIGEST_LEN])
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    bt_db *db = NULL;
    char msg[512] = "";
    int rc = bt_db_open(&db, dir, &o, msg, sizeof msg);
    if (rc) {
        cli_error("migrate: cannot open %s: %s", dir, msg);
        return rc;
    }
    bt_params p = BT_PARAMS_INIT;
    rc = bt_db_tree_create(db, tree, &p);
    if (rc) cli_error("migrate: create tree %s: %s (%s)", tree, bt_strerror(rc), bt_db_errmsg(db));
    bt_op *ops = rc ? NULL : calloc(batch, sizeof *ops);
    bt_result *res = rc ? NULL : calloc(batch, sizeof *res);
    uint8_t (*keys)[BT_NOTE_KEY_LEN] = rc ? NULL : calloc(batch, BT_NOTE_KEY_LEN);
    uint8_t (*vals)[BT_RESERVE_VALUE_LEN] = rc ? NULL : calloc(batch, BT_RESERVE_VALUE_LEN);
    if (!rc && (!ops || !res || !keys || !vals)) rc = BT_ENOMEM;
    for (size_t at = 0; !rc && at < n; at += batch) {
        size_t m = n - at < batch ? n - at : batch;
        for (size_t i = 0; i < m; i++) {
            const upd *u = &ups[at + i];
            bt_basis_note_key(keys[i], u->issuer, u->recipient);
            ops[i].type = BT_OP_INSERT_OR_UPDATE;
            ops[i].key = keys[i];
            ops[i].key_len = BT_NOTE_KEY_LEN;
            ops[i].value = vals[i];
            if (reserve) {
                bt_basis_reserve_value(vals[i], u->a, u->b);
                ops[i].value_len = BT_RESERVE_VALUE_LEN;
            } else {
                bt_basis_tracker_value(vals[i], u->a);
                ops[i].value_len = BT_TRACKER_VALUE_LEN;
            }
        }
        bt_txn *txn = NULL;
        rc = bt_txn_begin(&txn, db);
        if (!rc) rc = bt_txn_apply(txn, tree, ops, m, res);
        for (size_t i = 0; !rc && i < m; i++)
            if (res[i].status) rc = res[i].status;
        if (!rc) rc = bt_txn_commit(txn, NULL);
        else bt_txn_abort(txn);
        if (rc) cli_error("migrate: writing %s: %s (%s)", dir, bt_strerror(rc), bt_db_errmsg(db));
    }
    if (!rc) rc = bt_db_digest(out_digest, db, tree);
    free(ops);
    free(res);
    free(keys);
    free(vals);
    int cr = bt_db_close(db);
    return rc ? rc : cr;
}

/* migrate DIR: the on-disk format upgrade (bt_db_upgrade). */
static int upgrade_format(const char *dir, int json)
{
    bt_upgrade_info info;
    char msg[512] = "";
    int rc = bt_db_upgrade(&info, dir, msg, sizeof msg);
    if (rc) {
        cli_error("migrate: %s: %s: %s", dir, bt_strerror(rc), msg);
        return CLI_FAIL;
    }
    if (json) {
        json_t *o = json_pack("{s:s,s:i,s:i,s:b,s:I,s:I,s:I,s:s}", "db", dir, "from_format",
                              (int)info.from_format, "to_format", (int)info.to_format,
                              "already_current", info.already_current, "trees",
                              (json_int_t)info.trees, "ops", (json_int_t)info.ops, "ops_indexed",
                              (json_int_t)info.ops_indexed, "original_kept_at",
                              info.original_kept_at);
        char *t = json_dumps(o, JSON_COMPACT);
        if (t) puts(t);
        free(t);
        json_decref(o);
    } else if (info.already_current) {
        printf("%s is already in format %u: nothing to do\n", dir, info.to_format);
    } else {
        printf("upgraded %s from format %u to %u: %zu trees, %llu ops (%llu indexed), digests, "
               "counts and checkpoints validated; the original is kept at %s (delete it when "
               "satisfied)\n",
               dir, info.from_format, info.to_format, info.trees, (unsigned long long)info.ops,
               (unsigned long long)info.ops_indexed, info.original_kept_at);
    }
    return CLI_OK;
}

int cmd_migrate(int argc, char **argv)
{
    static const struct option longopts[] = {{"tracker", required_argument, NULL, 't'},
                                             {"reserve", required_argument, NULL, 'r'},
                                             {"format", required_argument, NULL, 'f'},
                                             {"expect", required_argument, NULL, 'e'},
                                             {"one-tree", no_argument, NULL, 'o'},
                                             {"db", required_argument, NULL, 'd'},
                                             {"tree", required_argument, NULL, 'n'},
                                             {"batch", required_argument, NULL, 'b'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL, *format = NULL, *expect = NULL, *dbdir = NULL, *tree = NULL;
    int reserve = 0, one_tree = 0, json = 0, c;
    uint64_t batch = MIG_BATCH_DEFAULT;
    opterr = 0; /* our own messages, naming the option */
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 't': file = optarg; reserve = 0; break;
        case 'r': file = optarg; reserve = 1; break;
        case 'f': format = optarg; break;
        case 'e': expect = optarg; break;
        case 'o': one_tree = 1; break;
        case 'd': dbdir = optarg; break;
        case 'n': tree = optarg; break;
        case 'b':
            if (cli_parse_u64(&batch, optarg) != 0 || batch < 1 || batch > 1000000)
                return cli_usage_error("migrate", "--batch: 1..1000000");
            break;
        case 'j': json = 1; break;
        case 'h': fputs(migrate_usage, stdout); return CLI_OK;
        case ':': return cli_usage_error("migrate", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("migrate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!file && optind + 1 == argc && !format && !expect && !dbdir && !tree)
        return upgrade_format(argv[optind], json);
    if (!file || optind != argc)
        return cli_usage_error("migrate", "expected DIR, or --tracker FILE or --reserve FILE");
    if (!dbdir != !tree) return cli_usage_error("migrate", "--db and --tree go together");
    size_t fl = strlen(file);
    int csv = format ? strcmp(format, "csv") == 0 : (fl > 4 && strcmp(file + fl - 4, ".csv") == 0);
    if (format && !csv && strcmp(format, "jsonl") != 0)
        return cli_usage_error("migrate", "--format: jsonl or csv");
    int per_issuer = reserve && !one_tree;
    if ((expect || dbdir) && per_issuer)
        return cli_usage_error("migrate", "--expect and --db need a single tree (--one-tree)");
    uint8_t want[BT_DIGEST_LEN];
    if (expect && hex_decode_exact(want, sizeof want, expect) != 0) {
        /* or the register as read from the chain: 0x64 || digest || ... */
        uint8_t *raw = NULL;
        size_t rl = 0;
        bt_avl_register reg;
        int ok = hex_decode(&raw, &rl, expect) == 0 && bt_avl_register_decode(&reg, raw, rl) == 0;
        free(raw);
        if (!ok)
            return cli_usage_error("migrate", "--expect: a 33-byte digest or an SAvlTree register, in hex");
        memcpy(want, reg.digest, sizeof want);
    }

    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!in) {
        cli_error("migrate: cannot open %s: %s", file, strerror(errno));
        return CLI_FAIL;
    }
    char *line = malloc(MIG_LINE_MAX + 2);
    dest *ds = NULL;
    size_t nd = 0, nups = 0, capups = 0, lineno = 0;
    upd *ups = NULL;
    uint64_t last_ts = 0;
    int rc = line ? 0 : BT_ENOMEM, status = CLI_OK;
    while (!rc && status == CLI_OK && fgets(line, MIG_LINE_MAX + 2, in)) {
        lineno++;
        char err[200];
        if (strlen(line) > MIG_LINE_MAX) {
            cli_error("migrate: %s:%zu: line longer than %u bytes", file, lineno, MIG_LINE_MAX);
            status = CLI_FAIL;
            break;
        }
        upd u;
        int pr = parse_line(&u, line, csv, reserve, err, sizeof err);
        if (pr == 1) continue;
        if (pr < 0) {
            cli_error("migrate: %s:%zu: %s", file, lineno, err);
            status = CLI_FAIL;
            break;
        }
        uint64_t ts = reserve ? u.a : u.b;
        if (ts < last_ts) {
            cli_error("migrate: %s:%zu: timestamp %llu is before the previous one (%llu): "
                      "updates must be in order",
                      file, lineno, (unsigned long long)ts, (unsigned long long)last_ts);
            status = CLI_FAIL;
            break;
        }
        last_ts = ts;
        uint8_t key[BT_NOTE_KEY_LEN], val[BT_RESERVE_VALUE_LEN];
        if (bt_basis_note_key(key, u.issuer, u.recipient) != 0) {
            cli_error("migrate: %s:%zu: a public key is not a compressed point (02/03...)", file,
                      lineno);
            status = CLI_FAIL;
            break;
        }
        dest *d = find_dest(&ds, &nd, u.issuer, per_issuer, &rc);
        if (!d) break;
        bt_op op = {BT_OP_INSERT_OR_UPDATE, key, sizeof key, val,
                    reserve ? BT_RESERVE_VALUE_LEN : BT_TRACKER_VALUE_LEN};
        if (reserve) bt_basis_reserve_value(val, u.a, u.b);
        else bt_basis_tracker_value(val, u.a);
        bt_result r;
        rc = bt_tree_apply(d->t, &op, &r);
        if (!rc) rc = r.status;
        d->updates++;
        if (!rc && dbdir) {
            if (nups == capups) {
                size_t cap = capups ? 2 * capups : 1024;
                upd *g = realloc(ups, cap * sizeof *g);
                if (!g) rc = BT_ENOMEM;
                else {
                    ups = g;
                    capups = cap;
                }
            }
            if (!rc) ups[nups++] = u;
        }
    }
    if (!rc && status == CLI_OK && ferror(in)) {
        cli_error("migrate: reading %s: %s", file, strerror(errno));
        status = CLI_FAIL;
    }
    if (in != stdin) fclose(in);
    free(line);
    if (rc) {
        cli_error("migrate: %s:%zu: %s", file, lineno, bt_strerror(rc));
        status = CLI_FAIL;
    }
    if (status == CLI_OK && nd == 0 && !per_issuer) { /* an empty file: the empty tree */
        uint8_t zero[BT_PUBKEY_LEN] = {0};
        if (!find_dest(&ds, &nd, zero, 0, &rc)) status = CLI_FAIL;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < nd; i++) total += ds[i].updates;
    if (status == CLI_OK && json)
        printf("{\"kind\":\"%s\",\"updates\":%llu,\"trees\":[", reserve ? "reserve" : "tracker",
               (unsigned long long)total);
    for (size_t i = 0; status == CLI_OK && i < nd; i++) {
        uint8_t dg[BT_DIGEST_LEN], reg[BT_AVL_REGISTER_MAX];
        size_t rl = 0;
        if (bt_tree_digest(dg, ds[i].t) != 0) {
            status = CLI_FAIL;
            break;
        }
        bt_avl_register ar;
        memset(&ar, 0, sizeof ar);
        memcpy(ar.digest, dg, sizeof dg);
        ar.flags = BT_AVL_INSERT_ALLOWED | BT_AVL_UPDATE_ALLOWED;
        ar.key_len = BT_NOTE_KEY_LEN;
        bt_avl_register_encode(reg, sizeof reg, &rl, &ar);
        char *dh = hex_encode(dg, sizeof dg), *rh = hex_encode(reg, rl);
        char *ih = per_issuer ? hex_encode(ds[i].issuer, BT_PUBKEY_LEN) : NULL;
        if (json) {
            printf("%s{", i ? "," : "");
            if (ih) printf("\"issuer\":\"%s\",", ih);
            printf("\"updates\":%llu,\"keys\":%llu,\"digest\":\"%s\",\"register\":\"%s\"}",
                   (unsigned long long)ds[i].updates, (unsigned long long)bt_tree_count(ds[i].t),
                   dh, rh);
        } else {
            if (ih) printf("issuer %s\n", ih);
            printf("%s: %llu updates, %llu notes\ndigest   %s\nregister %s\n",
                   reserve ? "reserve" : "tracker", (unsigned long long)ds[i].updates,
                   (unsigned long long)bt_tree_count(ds[i].t), dh, rh);
        }
        free(dh);
        free(rh);
        free(ih);
    }
    if (status == CLI_OK && json) printf("]}\n");
    if (status == CLI_OK && expect) {
        uint8_t dg[BT_DIGEST_LEN];
        if (bt_tree_digest(dg, ds[0].t) != 0 || memcmp(dg, want, sizeof dg) != 0) {
            cli_error("migrate: the digest differs from --expect %s", expect);
            status = CLI_FAIL;
        } else if (!json) {
            printf("digest matches the expected one\n");
        }
    }
    if (status == CLI_OK && dbdir) {
        uint8_t mem[BT_DIGEST_LEN], got[BT_DIGEST_LEN];
        int r = bt_tree_digest(mem, ds[0].t);
        if (!r) r = write_db(dbdir, tree, ups, nups, reserve, batch, got);
        if (r) status = CLI_FAIL;
        else if (memcmp(mem, got, sizeof mem) != 0) {
            cli_error("migrate: the database tree's digest differs from the rebuilt one");
            status = CLI_FAIL;
        } else if (!json) {
            printf("written to %s tree %s (digest confirmed)\n", dbdir, tree);
        }
    }
    for (size_t i = 0; i < nd; i++) bt_tree_free(ds[i].t);
    free(ds);
    free(ups);
    return status;
}
