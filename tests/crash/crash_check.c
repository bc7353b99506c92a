/*
 * crash_check.c -- the checker of the kill -9 torture test (README.md).
 *
 *   crash_check DIR
 *
 * Reopens DIR/db (a normal open, so recovery runs) after the writer was
 * killed and checks it against the writer's acknowledgements (DIR/acks) and
 * against an independent in-memory mirror (bt_tree) that regenerates the
 * deterministic stream (crash_stream.h):
 *   C1. bt_db_open succeeds.
 *   C2. Let c be the reopened last commit seq (bt_db_stats_get .commits).
 *       c <= the last "P" line (nothing beyond what the writer attempted).
 *   C3. sync and group modes: c >= the last "A" line (nothing acknowledged
 *       as durable is lost).  Mode none asserts only a committed prefix.
 *   C4. Both trees' digests and key counts equal the mirror's after commit c,
 *       and every key of the keyspace reads back (bt_db_get) as in the mirror.
 *   C5. Every A/W line in the replayed range carries the mirror's digests
 *       (the writer saw the right state when it acknowledged).
 *   C6. bt_db_check passes on both trees; bt_db_close returns 0.
 *   C7. At most CS_CKPT_KEEP checkpoints are retained, each taken after a
 *       commit that is a multiple of CS_CKPT_EVERY and not beyond c; each
 *       validates (every node reloaded, every label recomputed) and holds
 *       the digests the writer acknowledged for its commit.
 * Rollbacks (Q/R lines): an R line is durable (it lowers the bound of C3
 * to its commit); after a Q line without its R the database may be either
 * at the rollback's commit or where it was, and a later session that opened
 * at the rollback's commit ("S pid commit") settles it as an R line would.
 * Prints one line starting "crash_check: OK" or "crash_check: FAIL" and
 * exits 0 or 1 (2: the test itself could not run).
 */
#include "crash_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Only the end of the ack file is read: it holds far more than the replay
 * window (reset_every commits, three short lines each). */
#define ACK_TAIL_BYTES (8u << 20)

typedef struct ack {
    uint64_t seq;
    char kind; /* 'A', 'W' or 'R' */
    uint8_t d[CS_NTREES][BT_DIGEST_LEN];
} ack;

typedef struct acks {
    ack *v;
    size_t n, cap;
    uint64_t last_a, last_p, last_w; /* last A, last P, last A-or-W seq (0: none) */
    uint64_t sessions, bad_lines;
    uint64_t pending_rb, rollbacks; /* a Q line without its R yet; R lines seen */
    int has_pending;
} acks;

static const char *g_dir;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("crash_check: FAIL (%s): ", g_dir);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(1);
}

static void broken(const char *what)
{
    printf("crash_check: ERROR (%s): %s\n", g_dir, what);
    exit(2);
}

static void parse_line(acks *a, char *line, size_t len)
{
    uint64_t seq;
    int off = 0;
    if (len < 3 || line[1] != ' ') {
        a->bad_lines++;
        return;
    }
    char kind = line[0];
    if (kind == 'S') {
        /* "S pid commit": a writer session opened the database at commit.
         * Opening exactly at a pending rollback's commit means the rollback
         * took effect (it is one synced batch; the check after the kill that
         * interrupted it accepted that state): from here on it bounds C3 as
         * its R line would have. */
        long pid;
        uint64_t at;
        a->sessions++;
        if (sscanf(line + 2, "%ld %" SCNu64, &pid, &at) == 2 && a->has_pending &&
            at == a->pending_rb) {
            a->last_a = a->last_w = at;
            a->has_pending = 0;
            a->rollbacks++;
        }
        return;
    }
    if (sscanf(line + 2, "%" SCNu64 "%n", &seq, &off) != 1) {
        a->bad_lines++;
        return;
    }
    if (kind == 'P') {
        a->last_p = seq;
        return;
    }
    if (kind == 'Q') {
        a->has_pending = 1;
        a->pending_rb = seq;
        return;
    }
    if (kind != 'A' && kind != 'W' && kind != 'R') {
        a->bad_lines++;
        return;
    }
    const char *h = line + 2 + off;
    const size_t hl = 2 * BT_DIGEST_LEN;
    ack e = {seq, kind, {{0}}};
    if (strlen(h) != 2 * (hl + 1) || h[0] != ' ' || h[hl + 1] != ' ' ||
        cs_unhex(e.d[0], BT_DIGEST_LEN, h + 1, hl) || cs_unhex(e.d[1], BT_DIGEST_LEN, h + hl + 2, hl)) {
        a->bad_lines++;
        return;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 1024;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v) broken("out of memory");
    }
    a->v[a->n++] = e;
    a->last_w = seq;
    a->has_pending = 0;
    if (kind == 'A' || kind == 'R') a->last_a = seq;
    if (kind == 'R') a->rollbacks++;
}

/* Reads the tail of DIR/acks.  A last line without its newline was torn by
 * the kill and is ignored (its write() never returned). */
static void read_acks(acks *a, const char *dir)
{
    char path[CS_PATH_MAX];
    snprintf(path, sizeof path, "%s/acks", dir);
    int fd = open(path, O_RDONLY);
    if (fd < 0) broken("cannot open the ack file");
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)ACK_TAIL_BYTES ? size - (off_t)ACK_TAIL_BYTES : 0;
    size_t len = (size_t)(size - from);
    char *buf = malloc(len + 1);
    if (!buf || pread(fd, buf, len, from) != (ssize_t)len) broken("cannot read the ack file");
    close(fd);
    size_t i = 0;
    if (from > 0)
        while (i < len && buf[i++] != '\n') {}
    while (i < len) {
        char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break;
        *nl = 0;
        if (nl > buf + i) parse_line(a, buf + i, (size_t)(nl - (buf + i)));
        i = (size_t)(nl - buf) + 1;
    }
    free(buf);
}

/* ---- the mirror ------------------------------------------------------------ */

typedef struct mirror {
    bt_tree *t[CS_NTREES];
    bt_op *ops;
    bt_result *res;
} mirror;

static void mirror_init(mirror *m, const cs_stream *s)
{
    for (unsigned t = 0; t < CS_NTREES; t++) {
        bt_params tp;
        cs_tree_params(&tp, t);
        if (bt_tree_new(&m->t[t], &tp)) broken("bt_tree_new failed");
    }
    m->ops = malloc(s->capops * sizeof *m->ops);
    m->res = malloc(s->capops * sizeof *m->res);
    if (!m->ops || !m->res) broken("out of memory");
}

static void mirror_dispose(mirror *m)
{
    for (unsigned t = 0; t < CS_NTREES; t++) bt_tree_free(m->t[t]);
    free(m->ops);
    free(m->res);
}

/* Applies transaction k (already generated in s) and closes the batch. */
static void mirror_apply(mirror *m, const cs_stream *s, uint64_t k)
{
    for (size_t i = 0; i < s->nops; i++) {
        bt_op op;
        cs_stream_op(&op, s, i);
        int rc = bt_tree_apply(m->t[s->ops[i].tree], &op, &m->res[i]);
        if (rc) broken("mirror: bt_tree_apply failed");
    }
    if (m->res[0].status)
        fail("stream bug: the first op of commit %" PRIu64 " failed (%s)", k,
             bt_strerror(m->res[0].status));
    for (unsigned t = 0; t < CS_NTREES; t++) {
        uint8_t *proof = NULL;
        size_t plen = 0;
        if (bt_tree_prove(&proof, &plen, m->t[t])) broken("mirror: bt_tree_prove failed");
        bt_free(proof);
    }
}

static void mirror_digests(uint8_t d[CS_NTREES][BT_DIGEST_LEN], mirror *m)
{
    for (unsigned t = 0; t < CS_NTREES; t++)
        if (bt_tree_digest(d[t], m->t[t])) broken("mirror: bt_tree_digest failed");
}

static int ack_cmp(const void *x, const void *y)
{
    const ack *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* First entry with seq >= k in the sorted array. */
static size_t ack_lower(const ack *v, size_t n, uint64_t k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].seq < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Replays from the last reset point at or before c up to max(c, acked), checks
 * every ack line on the way (C5), and leaves the digests after commit c in dc.
 * Returns the number of commits replayed. */
static uint64_t replay(uint8_t dc[CS_NTREES][BT_DIGEST_LEN], mirror *m, cs_stream *s,
                       const acks *a, uint64_t c)
{
    uint64_t start = c - c % s->p.reset_every;
    uint64_t end = a->last_w > c ? a->last_w : c;
    uint8_t d[CS_NTREES][BT_DIGEST_LEN];
    uint64_t k = start ? start : 1;
    mirror_digests(d, m);
    if (c == 0) memcpy(dc, d, sizeof d);
    for (; k <= end; k++) {
        cs_stream_txn(s, k);
        mirror_apply(m, s, k);
        mirror_digests(d, m);
        if (k == c) memcpy(dc, d, sizeof d);
        for (size_t i = ack_lower(a->v, a->n, k); i < a->n && a->v[i].seq == k; i++) {
            const ack *e = &a->v[i];
            for (unsigned t = 0; t < CS_NTREES; t++)
                if (memcmp(e->d[t], d[t], BT_DIGEST_LEN)) {
                    char h1[2 * BT_DIGEST_LEN + 1], h2[2 * BT_DIGEST_LEN + 1];
                    cs_hex(h1, e->d[t], BT_DIGEST_LEN);
                    cs_hex(h2, d[t], BT_DIGEST_LEN);
                    fail("C5: the writer's %c line for commit %" PRIu64 " has %s digest %s, the "
                         "mirror %s", e->kind, k, cs_tree_names[t], h1, h2);
                }
        }
    }
    return end + 1 - (start ? start : 1);
}

/* ---- checks against the reopened database ------------------------------------- */

static void check_db(bt_db *db, mirror *m, cs_stream *s, uint8_t dc[CS_NTREES][BT_DIGEST_LEN],
                     uint64_t c)
{
    for (unsigned t = 0; t < CS_NTREES; t++) {
        uint8_t d[BT_DIGEST_LEN];
        char h1[2 * BT_DIGEST_LEN + 1], h2[2 * BT_DIGEST_LEN + 1];
        int rc = bt_db_digest(d, db, cs_tree_names[t]);
        if (rc) fail("C4: bt_db_digest(%s): %s: %s", cs_tree_names[t], bt_strerror(rc), bt_db_errmsg(db));
        if (memcmp(d, dc[t], BT_DIGEST_LEN)) {
            cs_hex(h1, d, BT_DIGEST_LEN);
            cs_hex(h2, dc[t], BT_DIGEST_LEN);
            fail("C4: after reopen at commit %" PRIu64 " tree %s has digest %s, the mirror %s", c,
                 cs_tree_names[t], h1, h2);
        }
    }
    for (unsigned t = 0; t < CS_NTREES; t++) {
        uint64_t n = 0;
        int rc = bt_db_count(&n, db, cs_tree_names[t]);
        if (rc || n != bt_tree_count(m->t[t]))
            fail("C4: tree %s count %" PRIu64 " (rc %d), the mirror %" PRIu64, cs_tree_names[t], n,
                 rc, bt_tree_count(m->t[t]));
        for (uint32_t i = 0; i < s->p.keys; i++) {
            const uint8_t *key = cs_key(s, t, i), *mv = NULL;
            uint8_t *v = NULL;
            size_t vl = 0, mvl = 0;
            int mrc = bt_tree_get(&mv, &mvl, m->t[t], key, CS_KEY_LEN);
            rc = bt_db_get(&v, &vl, db, cs_tree_names[t], key, CS_KEY_LEN);
            bool same = rc == mrc && (rc || (vl == mvl && (!vl || !memcmp(v, mv, vl))));
            bt_free(v);
            if (!same)
                fail("C4: tree %s key #%" PRIu32 ": bt_db_get rc %d len %zu, the mirror rc %d len %zu%s%s",
                     cs_tree_names[t], i, rc, vl, mrc, mvl, rc && rc != BT_ENOTFOUND ? ": " : "",
                     rc && rc != BT_ENOTFOUND ? bt_db_errmsg(db) : "");
        }
        rc = bt_db_check(db, cs_tree_names[t]);
        if (rc) fail("C6: bt_db_check(%s): %s: %s", cs_tree_names[t], bt_strerror(rc), bt_db_errmsg(db));
    }
}

/* C7 */
static size_t check_checkpoints(bt_db *db, const acks *a, uint64_t c)
{
    bt_checkpoint *list = NULL;
    size_t n = 0;
    int rc = bt_db_checkpoint_list(&list, &n, db);
    if (rc) fail("C7: bt_db_checkpoint_list: %s: %s", bt_strerror(rc), bt_db_errmsg(db));
    if (n > CS_CKPT_KEEP) fail("C7: %zu checkpoints retained, at most %d expected", n, CS_CKPT_KEEP);
    for (size_t i = 0; i < n; i++) {
        const bt_checkpoint *k = &list[i];
        if (k->commit_seq % CS_CKPT_EVERY != 0 || k->commit_seq > c || k->ntrees != CS_NTREES)
            fail("C7: checkpoint %" PRIu64 " of commit %" PRIu64 " (reopened at %" PRIu64 ", %zu trees) "
                 "was never taken", k->id, k->commit_seq, c, k->ntrees);
        if ((rc = bt_db_checkpoint_validate(db, k->id)))
            fail("C7: checkpoint %" PRIu64 " does not validate: %s: %s", k->id, bt_strerror(rc),
                 bt_db_errmsg(db));
        size_t j = ack_lower(a->v, a->n, k->commit_seq);
        if (j == a->n || a->v[j].seq != k->commit_seq) continue; /* before the ack tail */
        for (size_t t = 0; t < k->ntrees; t++) {
            unsigned ti = strcmp(k->trees[t].name, cs_tree_names[0]) == 0 ? 0 : 1;
            if (memcmp(k->trees[t].digest, a->v[j].d[ti], BT_DIGEST_LEN))
                fail("C7: checkpoint %" PRIu64 " tree %s differs from commit %" PRIu64 "'s digest",
                     k->id, k->trees[t].name, k->commit_seq);
        }
    }
    bt_free(list);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: crash_check DIR\n");
        return 2;
    }
    g_dir = argv[1];
    cs_params p;
    cs_stream s;
    acks a;
    memset(&a, 0, sizeof a);
    if (cs_params_read(&p, g_dir)) broken("cannot read DIR/params");
    if (cs_stream_init(&s, &p)) broken("out of memory");
    read_acks(&a, g_dir);
    if (a.n) qsort(a.v, a.n, sizeof *a.v, ack_cmp); /* last_* were taken in file order */

    char path[CS_PATH_MAX], msg[512] = "";
    snprintf(path, sizeof path, "%s/db", g_dir);
    bt_db_options o;
    cs_db_options(&o, &p);
    o.create_if_missing = 0;
    bt_db *db = NULL;
    int rc = bt_db_open(&db, path, &o, msg, sizeof msg);
    if (rc) fail("C1: bt_db_open: %s: %s (last A %" PRIu64 ", last P %" PRIu64 ")", bt_strerror(rc),
                 msg, a.last_a, a.last_p);
    bt_db_stats st;
    if ((rc = bt_db_stats_get(&st, db))) fail("bt_db_stats_get: %s", bt_strerror(rc));
    uint64_t c = st.commits;
    if (c > a.last_p)
        fail("C2: reopened at commit %" PRIu64 " but the writer never began a commit after %" PRIu64,
             c, a.last_p);
    if (p.mode != CS_MODE_NONE && c < a.last_a && !(a.has_pending && c == a.pending_rb))
        fail("C3: reopened at commit %" PRIu64 " but commit %" PRIu64 " was acknowledged durable "
             "(mode %s): %" PRIu64 " acknowledged commit(s) lost",
             c, a.last_a, cs_mode_name(p.mode), a.last_a - c);

    /* The mirror replays up to max(c, last W); the key checks need it at c,
     * so replay twice when the writer got further than the database. */
    mirror m;
    uint8_t dc[CS_NTREES][BT_DIGEST_LEN];
    mirror_init(&m, &s);
    uint64_t replayed = replay(dc, &m, &s, &a, c);
    if (a.last_w > c) {
        acks none;
        memset(&none, 0, sizeof none);
        mirror_dispose(&m);
        mirror_init(&m, &s);
        replay(dc, &m, &s, &none, c);
    }
    check_db(db, &m, &s, dc, c);
    size_t nck = check_checkpoints(db, &a, c);
    if ((rc = bt_db_close(db))) fail("C6: bt_db_close: %s: %s", bt_strerror(rc), bt_db_errmsg(NULL));
    printf("crash_check: OK mode=%s commits=%" PRIu64 " last_A=%" PRIu64 " last_P=%" PRIu64
           " last_W=%" PRIu64 " unsynced_lost=%" PRIu64 " mirror_replayed=%" PRIu64
           " db_replayed_ops=%" PRIu64 " open_ms=%.1f sessions_in_tail=%" PRIu64 " bad_lines=%" PRIu64
           " checkpoints=%zu rollbacks_in_tail=%" PRIu64 "\n",
           cs_mode_name(p.mode), c, a.last_a, a.last_p, a.last_w, a.last_w > c ? a.last_w - c : 0,
           replayed, st.replayed_ops, st.open_ms, a.sessions, a.bad_lines, nck, a.rollbacks);
    mirror_dispose(&m);
    cs_stream_dispose(&s);
    free(a.v);
    return 0;
}
