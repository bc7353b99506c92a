/*
 * snapshot.c -- export and import of one tree version as a snapshot file
 * (docs/FORMAT.md section 5; bytes in src/codec/snapshot.c).
 *
 * Export walks a root in post-order with an explicit stack (depth bounded
 * by BT_VERIFY_DEPTH_MAX) and streams tokens to the writer.  Stored nodes
 * that are not in memory are loaded through the node source, checked
 * against the label their parent expects, and dropped again once their
 * subtree is written: memory stays O(height + one chunk).
 *
 * Import rebuilds the tree in memory from the tokens with an explicit
 * stack of finished subtrees (at most height + 1 entries): keys come from
 * the previous leaf's nextKey (the first is -inf), routing keys are the
 * smallest key of the right subtree, balances must match the subtree
 * heights, and every label is recomputed.  Nothing is trusted until the
 * root's label and height equal the header's digest.  Into a database the
 * tree then goes as a node flush does (bt_db__write_tree_nodes: one
 * ingested table file, durable), followed by one logged batch holding its
 * tree/, root/ and head/ records and the commit record: a crash before
 * that batch leaves unreferenced nodes (ids handed out again, as after an
 * interrupted flush) and no tree; after it, the whole tree.  The tree has
 * no operations in the log: its root/ record's flushed_op_seq is the
 * current op seq, so recovery replays nothing for it (D2).
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "codec/snapshot.h"
#include "util/alloc.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bt_db__space_ok(bt_db *db);

#define SNAP_LEVEL 3
#define STACK_MAX (BT_VERIFY_DEPTH_MAX + 2)

/* ---- export -------------------------------------------------------------------- */

typedef struct xframe {
    bt_node *n;    /* resolved node */
    bool owned;    /* we hold the only reference (loaded for the export) */
    int state;     /* internal: 0 start, 1 left being written, 2 right */
    bool rmin_set; /* state 2: the right subtree's smallest key is known */
} xframe;

typedef struct xwalk {
    const bt_params *p;
    const bt_node_source *src;
    _Atomic int64_t *cache_bytes; /* a db's cache estimate (loads add to it) */
    bt_snap_writer *w;
    xframe st[STACK_MAX];
    uint8_t *rmin;  /* STACK_MAX x key_len */
    uint8_t *expect; /* the key the next leaf must have */
    int sp;
    char *msg;
    size_t cap;
} xwalk;

static int xfail(xwalk *x, int code, const char *what)
{
    snprintf(x->msg, x->cap, "export: %s", what);
    return code;
}

/* Resolves x without attaching what it loads to the stub. */
static int xresolve(xwalk *x, bt_node *n, xframe *f)
{
    f->owned = false;
    f->state = 0;
    f->rmin_set = false;
    if (n->kind != BT_NK_LABEL) {
        f->n = n;
        return 0;
    }
    bt_node *l = atomic_load_explicit(&n->u.stub.loaded, memory_order_acquire);
    if (l) {
        f->n = l;
        return 0;
    }
    if (!x->src || !x->src->load) return xfail(x, BT_ECORRUPT, "a pruned subtree has no node source");
    bool fixed = x->p->value_len != BT_VALUE_VARIABLE;
    bt_node *ld = NULL;
    int rc = x->src->load(x->src->ctx, n, x->p->key_len, fixed, x->p->value_len, &ld, x->msg, x->cap);
    if (rc) return rc;
    uint8_t lab[32];
    if (ld->kind == BT_NK_LEAF)
        bt_label_leaf(lab, ld->klen, bt_node_key(ld), bt_leaf_value(ld), ld->u.leaf.vlen,
                      bt_leaf_next(ld));
    else if (ld->kind == BT_NK_INTERNAL)
        bt_label_internal(lab, ld->balance, bt_node_label(ld->u.in.left), bt_node_label(ld->u.in.right));
    if (ld->kind == BT_NK_LABEL || memcmp(lab, bt_node_label(n), 32) != 0) {
        bt_node_unref(ld);
        return xfail(x, BT_ECORRUPT, "a stored node differs from the label its parent expects");
    }
    f->n = ld;
    f->owned = true;
    return 0;
}

static void xpop(xwalk *x)
{
    xframe *f = &x->st[--x->sp];
    if (f->owned) {
        bt_node *n = f->n;
        if (x->cache_bytes) /* as the database's loader counted it */
            atomic_fetch_sub(x->cache_bytes,
                             (int64_t)(bt_node_mem(n) +
                                       (n->kind == BT_NK_INTERNAL ? 2 * (sizeof *n + 32u) : 0)));
        bt_node_unref(n);
    }
    f->n = NULL;
}

static int xpush(xwalk *x, bt_node *n)
{
    if (x->sp >= STACK_MAX) return xfail(x, BT_ECORRUPT, "tree deeper than the limit");
    int rc = xresolve(x, n, &x->st[x->sp]);
    if (!rc) x->sp++;
    return rc;
}

static int xleaf(xwalk *x, bt_node *n)
{
    unsigned klen = x->p->key_len;
    if (memcmp(bt_node_key(n), x->expect, klen) != 0)
        return xfail(x, BT_ECORRUPT, "leaf keys do not follow the nextKey chain");
    /* the first leaf of the right subtree of every frame still waiting for it */
    for (int i = x->sp - 2; i >= 0; i--) {
        xframe *f = &x->st[i];
        if (f->state != 2) continue;
        if (f->rmin_set) break;
        memcpy(x->rmin + (size_t)i * klen, bt_node_key(n), klen);
        f->rmin_set = true;
    }
    memcpy(x->expect, bt_leaf_next(n), klen);
    int rc = bt_snap_put_leaf(x->w, bt_leaf_next(n), bt_leaf_value(n), n->u.leaf.vlen);
    return rc == BT_EINVAL ? xfail(x, BT_ECORRUPT, "the tree does not match its count or parameters") : rc;
}

/* Streams the tree under root as tokens (post-order). */
static int xwalk_run(xwalk *x, bt_node *root)
{
    int rc = xpush(x, root);
    while (!rc && x->sp > 0) {
        xframe *f = &x->st[x->sp - 1];
        bt_node *n = f->n;
        if (n->kind == BT_NK_LEAF) {
            rc = xleaf(x, n);
            xpop(x);
        } else if (n->kind != BT_NK_INTERNAL) {
            rc = xfail(x, BT_ECORRUPT, "unexpected node kind");
        } else if (f->state == 0) {
            f->state = 1;
            rc = xpush(x, n->u.in.left);
        } else if (f->state == 1) {
            f->state = 2;
            f->rmin_set = false;
            rc = xpush(x, n->u.in.right);
        } else {
            size_t i = (size_t)(x->sp - 1);
            if (!f->rmin_set || memcmp(x->rmin + i * x->p->key_len, bt_node_key(n), x->p->key_len) != 0)
                rc = xfail(x, BT_ECORRUPT, "a routing key is not the smallest key of its right subtree");
            if (!rc) rc = bt_snap_put_internal(x->w, n->balance);
            if (rc == BT_EINVAL) rc = xfail(x, BT_ECORRUPT, "the tree does not match its count");
            xpop(x);
        }
    }
    while (x->sp > 0) xpop(x);
    for (unsigned i = 0; !rc && i < x->p->key_len; i++)
        if (x->expect[i] != 0xFF) rc = xfail(x, BT_ECORRUPT, "the last leaf's nextKey is not +inf");
    return rc;
}

/* Exports one version (root, which may be a stub, with its height, count
 * and digest) to sink.  *out_bytes: the file's size. */
static int export_root(uint64_t *out_bytes, const bt_params *p, bt_node *root, int height,
                       uint64_t count, const uint8_t digest[BT_DIGEST_LEN], uint64_t checkpoint_id,
                       const bt_node_source *src, _Atomic int64_t *cache_bytes, bt_snap_sink sink,
                       void *ctx, char *msg, size_t cap)
{
    bt_snap_header h;
    memset(&h, 0, sizeof h);
    h.params = *p;
    if (h.params.value_len != BT_VALUE_VARIABLE) h.params.value_max = 0;
    memcpy(h.digest, digest, BT_DIGEST_LEN);
    h.height = (unsigned)height;
    h.count = count;
    h.nodes = 2 * count + 1;
    h.chunk_max = bt_snap_chunk_bytes;
    h.checkpoint_id = checkpoint_id;
    xwalk *x = bt_calloc(1, sizeof *x);
    uint8_t *keys = bt_calloc(STACK_MAX + 1, p->key_len);
    if (!x || !keys) {
        bt_mem_free(x);
        bt_mem_free(keys);
        snprintf(msg, cap, "out of memory");
        return BT_ENOMEM;
    }
    x->p = p;
    x->src = src;
    x->cache_bytes = cache_bytes;
    x->rmin = keys;
    x->expect = keys + (size_t)STACK_MAX * p->key_len; /* -inf: zeros */
    x->msg = msg;
    x->cap = cap;
    int rc = bt_snap_writer_new(&x->w, &h, SNAP_LEVEL, sink, ctx);
    if (rc == BT_EINVAL) {
        snprintf(msg, cap, "export: the version's height, count or parameters are inconsistent");
        rc = BT_ECORRUPT;
    } else if (rc) {
        snprintf(msg, cap, "export: cannot write the header: %s", bt_strerror(rc));
    }
    if (!rc) rc = xwalk_run(x, root);
    if (!rc && (rc = bt_snap_writer_finish(x->w)) == BT_EINVAL) {
        snprintf(msg, cap, "export: the tree has fewer nodes than its count says");
        rc = BT_ECORRUPT;
    }
    if (!rc && out_bytes) *out_bytes = bt_snap_writer_bytes(x->w);
    bt_snap_writer_free(x->w);
    bt_mem_free(keys);
    bt_mem_free(x);
    return rc;
}

/* ---- import: tokens -> an in-memory tree ------------------------------------- */

typedef struct bent {
    bt_node *n;
    int h;
    const uint8_t *minkey; /* points into the subtree's first leaf */
} bent;

/* Builds the tree a reader yields and checks it against the header.
 * *out_root: a fully labelled, sealed root (one reference). */
static int build(bt_node **out_root, bt_snap_reader *r, const bt_snap_header *h, char *msg, size_t cap)
{
    *out_root = NULL;
    unsigned klen = h->params.key_len;
    size_t maxst = (size_t)h->height + 1;
    bent *st = bt_calloc(maxst, sizeof *st);
    uint8_t neg[BT_KEY_LEN_MAX], pos[BT_KEY_LEN_MAX];
    memset(neg, 0x00, klen);
    memset(pos, 0xFF, klen);
    if (!st) {
        snprintf(msg, cap, "out of memory");
        return BT_ENOMEM;
    }
    size_t sp = 0;
    const uint8_t *key = neg; /* the next leaf's key */
    uint64_t leaves = 0;
    int rc = 0;
#define BAD(...) do { snprintf(msg, cap, __VA_ARGS__); rc = BT_ECORRUPT; } while (0)
    for (;;) {
        bt_snap_token tok;
        int got = bt_snap_next(r, &tok);
        if (got < 0) {
            snprintf(msg, cap, "%s", bt_snap_reader_msg(r));
            rc = got;
            break;
        }
        if (got == 0) break;
        if (tok.kind == 1) {
            if (sp == maxst) {
                BAD("snapshot: node %llu: the tree is higher than the header's %u",
                    (unsigned long long)leaves, h->height);
                break;
            }
            if (memcmp(key, tok.next, klen) >= 0) {
                BAD("snapshot: leaf %llu: keys do not increase", (unsigned long long)leaves);
                break;
            }
            if (leaves == 0) {
                for (uint32_t i = 0; i < tok.vlen && !rc; i++)
                    if (tok.value[i]) BAD("snapshot: the -inf sentinel's value is not zero");
                if (rc) break;
            }
            bt_node *n = bt_node_new_leaf(klen, key, tok.value, tok.vlen, tok.next, 0);
            if (!n) {
                snprintf(msg, cap, "out of memory");
                rc = BT_ENOMEM;
                break;
            }
            bt_label_leaf(bt_node_label(n), klen, key, tok.value, tok.vlen, tok.next);
            n->flags |= BT_NF_LABEL;
            st[sp].n = n;
            st[sp].h = 0;
            st[sp].minkey = bt_node_key(n);
            sp++;
            key = bt_leaf_next(n);
            leaves++;
        } else {
            if (sp < 2) {
                BAD("snapshot: an internal node without two subtrees");
                break;
            }
            bent *L = &st[sp - 2], *R = &st[sp - 1];
            int hh = (L->h > R->h ? L->h : R->h) + 1;
            if (R->h - L->h != tok.balance) {
                BAD("snapshot: balance %d but subtree heights %d/%d", tok.balance, L->h, R->h);
                break;
            }
            if (hh > (int)h->height) {
                BAD("snapshot: the tree is higher than the header's %u", h->height);
                break;
            }
            bt_node *n = bt_node_new_internal(klen, R->minkey, L->n, R->n, (int8_t)tok.balance, 0);
            if (!n) {
                snprintf(msg, cap, "out of memory");
                rc = BT_ENOMEM;
                break;
            }
            bt_label_internal(bt_node_label(n), (int8_t)tok.balance, bt_node_label(L->n),
                              bt_node_label(R->n));
            n->flags |= BT_NF_LABEL;
            bt_node_unref(L->n);
            bt_node_unref(R->n);
            R->n = NULL;
            L->n = n;
            L->h = hh;
            /* L->minkey stays: the left subtree's smallest key */
            sp--;
        }
    }
    if (!rc && sp != 1) BAD("snapshot: the nodes form %zu trees, not one", sp);
    if (!rc && memcmp(key, pos, klen) != 0) BAD("snapshot: the last leaf's nextKey is not +inf");
    if (!rc && (st[0].h != (int)h->height || memcmp(bt_node_label(st[0].n), h->digest, 32) != 0))
        BAD("snapshot: the rebuilt tree's digest differs from the header's digest");
#undef BAD
    if (!rc) {
        *out_root = st[0].n;
        st[0].n = NULL;
    }
    for (size_t i = 0; i < sp; i++)
        if (st[i].n) bt_node_unref(st[i].n);
    bt_mem_free(st);
    return rc;
}

/* Reads a whole snapshot from src into a verified in-memory root. */
static int read_snapshot(bt_node **out_root, bt_snap_header *h, bt_snap_source src, void *ctx,
                         uint64_t size, char *msg, size_t cap)
{
    bt_snap_reader *r = NULL;
    int rc = bt_snap_reader_new(&r, h, src, ctx, size, msg, cap);
    if (!rc) rc = build(out_root, r, h, msg, cap);
    bt_snap_reader_free(r);
    return rc;
}

static void fill_info(bt_snapshot_info *out, const bt_snap_header *h, uint64_t bytes)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->params = h->params;
    memcpy(out->digest, h->digest, BT_DIGEST_LEN);
    out->height = h->height;
    out->count = h->count;
    out->nodes = h->nodes;
    out->checkpoint_id = h->checkpoint_id;
    out->file_bytes = bytes;
}

/* ---- the in-memory tree ------------------------------------------------------- */

static int buf_sink(void *ctx, const void *p, size_t n)
{
    return bt_buf_append(ctx, p, n) ? BT_ENOMEM : 0;
}

int bt_tree_export_mem(uint8_t **out, size_t *out_len, bt_tree *tree)
{
    *out = NULL;
    *out_len = 0;
    uint8_t d[BT_DIGEST_LEN];
    int rc = bt_tree_digest(d, tree); /* labels the current batch */
    if (rc) return rc;
    bt_buf b = BT_BUF_INIT;
    rc = export_root(NULL, &tree->p, tree->s.root, tree->s.height, tree->count, d, 0, &tree->s.src,
                     NULL, buf_sink, &b, tree->msg, sizeof tree->msg);
    if (!rc) {
        *out = bt_buf_take(&b, out_len);
        if (!*out) rc = BT_ENOMEM;
    }
    bt_buf_free(&b);
    return rc;
}

int bt_tree_import_mem(bt_tree **out, const uint8_t *data, size_t len, char *errmsg, size_t errmsg_cap)
{
    char m[256] = "";
    *out = NULL;
    if (!data && len) {
        if (errmsg && errmsg_cap) snprintf(errmsg, errmsg_cap, "no data");
        return BT_EINVAL;
    }
    bt_crypto_init();
    bt_snap_mem src = {data, len, 0};
    bt_snap_header h;
    bt_node *root = NULL;
    int rc = read_snapshot(&root, &h, bt_snap_mem_read, &src, len, m, sizeof m);
    if (!rc) {
        rc = bt_tree_open_root(out, &h.params, root, (int)h.height, h.count, NULL);
        bt_node_unref(root);
        if (rc) snprintf(m, sizeof m, "out of memory");
    }
    if (rc && errmsg && errmsg_cap) snprintf(errmsg, errmsg_cap, "%s", m);
    return rc;
}

/* ---- files ------------------------------------------------------------------------ */

typedef struct fsink {
    FILE *f;
    int err;
} fsink;

static int file_sink(void *ctx, const void *p, size_t n)
{
    fsink *s = ctx;
    if (fwrite(p, 1, n, s->f) != n) {
        s->err = errno;
        return s->err == ENOSPC ? BT_ENOSPC : BT_EIO;
    }
    return 0;
}

static int file_source(void *ctx, void *p, size_t n, size_t *got)
{
    FILE *f = ctx;
    *got = fread(p, 1, n, f);
    if (*got == 0 && ferror(f)) return BT_EIO;
    return 0;
}

/* Writes a snapshot of one version to path: into a temporary file beside
 * it, synced, then renamed over path (a reader never sees half a file). */
int bt_db__export_root(bt_snapshot_info *out, bt_db *db, const bt_params *p, bt_node *root,
                       int height, uint64_t count, const uint8_t digest[BT_DIGEST_LEN],
                       uint64_t checkpoint_id, const char *path)
{
    size_t pl = strlen(path);
    char *tmp = bt_malloc(pl + 32);
    if (!tmp) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    snprintf(tmp, pl + 32, "%s.tmp-%ld", path, (long)getpid());
    fsink s = {fopen(tmp, "wb"), 0};
    if (!s.f) {
        int e = errno;
        bt_mem_free(tmp);
        return bt_db__set_msg(e == ENOSPC ? BT_ENOSPC : BT_EIO, "cannot create %s.tmp-*: %s", path,
                              strerror(e));
    }
    uint64_t bytes = 0;
    char m[BT_DB_MSG_CAP] = "";
    int rc = export_root(&bytes, p, root, height, count, digest, checkpoint_id, &db->src,
                         &db->cache_bytes, file_sink, &s, m, sizeof m);
    if (rc && s.err) snprintf(m, sizeof m, "writing %s: %s", tmp, strerror(s.err));
    if (!rc && (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0)) {
        int e = errno;
        rc = e == ENOSPC ? BT_ENOSPC : BT_EIO;
        snprintf(m, sizeof m, "writing %s: %s", tmp, strerror(e));
    }
    if (fclose(s.f) != 0 && !rc) {
        rc = BT_EIO;
        snprintf(m, sizeof m, "closing %s: %s", tmp, strerror(errno));
    }
    if (!rc && rename(tmp, path) != 0) {
        rc = BT_EIO;
        snprintf(m, sizeof m, "renaming %s to %s: %s", tmp, path, strerror(errno));
    }
    if (rc) unlink(tmp);
    bt_mem_free(tmp);
    if (rc) return bt_db__set_msg(rc, "%s", m);
    if (out) {
        bt_snap_header h;
        memset(&h, 0, sizeof h);
        h.params = *p;
        memcpy(h.digest, digest, BT_DIGEST_LEN);
        h.height = (unsigned)height;
        h.count = count;
        h.nodes = 2 * count + 1;
        h.checkpoint_id = checkpoint_id;
        fill_info(out, &h, bytes);
    }
    return 0;
}

int bt_db_export(bt_snapshot_info *out, bt_db *db, const char *tree, uint64_t checkpoint_id,
                 const char *path)
{
    if (out) memset(out, 0, sizeof *out);
    if (!tree || !path || !*path) return bt_db__set_msg(BT_EINVAL, "no tree name or path");
    bt_node *root = NULL;
    bt_params p;
    int height = 0, rc = 0;
    uint64_t count = 0;
    uint8_t digest[BT_DIGEST_LEN];
    pthread_mutex_lock(&db->rlock); /* a reference to the version: it stays readable */
    dbtree *dt = bt_db__find(db, tree);
    if (!dt) {
        rc = bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", tree);
    } else if (!checkpoint_id) {
        root = bt_node_ref(dt->committed);
        height = dt->committed_height;
        count = dt->committed_count;
        memcpy(digest, dt->committed_digest, BT_DIGEST_LEN);
    } else {
        dbckpt *c = bt_db__ckpt_find(db, checkpoint_id);
        dbckpt_tree *ct = NULL;
        for (size_t i = 0; c && i < c->ntrees; i++)
            if (c->trees[i].tree_id == dt->id) ct = &c->trees[i];
        if (!ct) {
            rc = bt_db__set_msg(BT_ENOTFOUND, c ? "tree %s is not in checkpoint %llu"
                                                : "tree %s: no checkpoint %llu",
                                tree, (unsigned long long)checkpoint_id);
        } else {
            root = bt_node_ref(ct->root);
            height = ct->digest[32];
            count = ct->count;
            memcpy(digest, ct->digest, BT_DIGEST_LEN);
        }
    }
    if (dt) p = dt->p;
    pthread_mutex_unlock(&db->rlock);
    if (rc) return rc;
    rc = bt_db__export_root(out, db, &p, root, height, count, digest, checkpoint_id, path);
    bt_node_unref(root);
    return rc;
}

/* ---- import into a database ---------------------------------------------------- */

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > BT_TREE_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static bool tree_exists(bt_db *db, const char *name)
{
    pthread_mutex_lock(&db->rlock);
    bool e = bt_db__find(db, name) != NULL;
    pthread_mutex_unlock(&db->rlock);
    return e;
}

/* Writes the records of the new tree (one logged batch, after its nodes)
 * and adds it to the handle.  Called with fmu and wlock held. */
static int commit_import(bt_db *db, const char *name, const bt_snap_header *h, bt_node *root,
                         bt_kv_batch *b)
{
    dbtree *dt = bt_calloc(1, sizeof *dt);
    int rc = dt ? 0 : bt_db__set_msg(BT_ENOMEM, "out of memory");
    if (!rc && db->ntrees == db->captrees) { /* room first: nothing may fail after the write */
        size_t c = db->captrees ? 2 * db->captrees : 8;
        pthread_mutex_lock(&db->rlock);
        dbtree **p = bt_realloc(db->trees, c * sizeof *p);
        if (p) {
            db->trees = p;
            db->captrees = c;
        }
        pthread_mutex_unlock(&db->rlock);
        if (!p) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    if (!rc && bt_tree_open_root(&dt->t, &h->params, root, (int)h->height, h->count, &db->src))
        rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    bt_rec_tree tr = {db->meta.next_tree_id, h->params, db->meta.commit_seq};
    uint64_t root_id = 0, written = 0;
    if (!rc) rc = bt_db__write_tree_nodes(db, tr.id, &h->params, root, b, &root_id, &written);
    bt_buf v = BT_BUF_INIT;
    bt_rec_commit_meta m = db->meta;
    uint8_t k[5 + BT_TREE_NAME_MAX];
    if (!rc) {
        bt_rec_root rr = {root_id, {0}, (uint8_t)h->height, h->count, db->meta.op_seq};
        memcpy(rr.label, h->digest, 32);
        memcpy(k, "root/", 5);
        bt_store_u32be(k + 5, tr.id);
        rc = bt_rec_root_encode(&v, &rr);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, k, 9, v.data, v.len);
        bt_rec_head hd = {db->meta.commit_seq, {0}, h->count};
        memcpy(hd.digest, h->digest, BT_DIGEST_LEN);
        memcpy(k, "head/", 5);
        v.len = 0;
        if (!rc) rc = bt_rec_head_encode(&v, &hd);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, k, 9, v.data, v.len);
        size_t nl = strlen(name);
        memcpy(k, "tree/", 5);
        memcpy(k + 5, name, nl);
        v.len = 0;
        if (!rc) rc = bt_rec_tree_encode(&v, &tr);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, k, 5 + nl, v.data, v.len);
        m.next_node_id = atomic_load(&db->next_node_id);
        m.next_tree_id++;
        v.len = 0;
        if (!rc) rc = bt_rec_commit_meta_encode(&v, &m);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, "commit", 6, v.data, v.len);
        uint8_t nid[8];
        bt_store_u64be(nid, m.next_node_id);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, "nodeid", 6, nid, 8);
        if (rc) bt_db__set_msg(rc, "out of memory");
        if (!rc) {
            rc = bt_db__write(db, b, db->o.durability != BT_DURABILITY_NONE ? BT_KV_SYNC : 0);
            if (rc) db->failed = rc; /* D5 */
        }
    }
    bt_buf_free(&v);
    if (rc) {
        if (dt) bt_tree_free(dt->t);
        bt_mem_free(dt);
        return rc;
    }
    db->meta = m;
    snprintf(dt->name, sizeof dt->name, "%s", name);
    dt->id = tr.id;
    dt->p = h->params;
    dt->flushed = bt_node_ref(root);
    dt->flushed_op_seq = m.op_seq;
    pthread_mutex_lock(&db->rlock);
    db->trees[db->ntrees++] = dt;
    pthread_mutex_unlock(&db->rlock);
    bt_db__publish(db, dt, 0);
    dt->head_commit_seq = m.commit_seq;
    return 0;
}

int bt_db_import(bt_snapshot_info *out, bt_db *db, const char *tree, const char *path)
{
    if (out) memset(out, 0, sizeof *out);
    if (!name_ok(tree))
        return bt_db__set_msg(BT_EINVAL, "tree name must be 1..%d characters of [A-Za-z0-9_.:-]",
                              BT_TREE_NAME_MAX);
    if (!path) return bt_db__set_msg(BT_EINVAL, "no path");
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    if (tree_exists(db, tree)) return bt_db__set_msg(BT_EEXISTS, "tree %s already exists", tree);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return bt_db__set_msg(e == ENOENT ? BT_ENOTFOUND : BT_EIO, "cannot open %s: %s", path,
                              strerror(e));
    }
    struct stat st;
    uint64_t size = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
    bt_snap_header h;
    bt_node *root = NULL;
    char m[BT_DB_MSG_CAP] = "";
    int rc = read_snapshot(&root, &h, file_source, f, size, m, sizeof m);
    fclose(f);
    if (rc) return bt_db__set_msg(rc, "%s: %s", path, m);
    if ((rc = bt_db__space_ok(db))) {
        bt_node_unref(root);
        return rc;
    }
    bt_kv_batch *b = db->kv->v->batch_new(db->kv);
    if (!b) {
        bt_node_unref(root);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&db->fmu); /* no flush or cache drop meanwhile */
    pthread_mutex_lock(&db->wlock);
    if (db->failed) rc = bt_db__set_msg(BT_EBADSTATE, "an earlier write failed; reopen the database");
    else if (db->txn_open) rc = bt_db__set_msg(BT_EBUSY, "a transaction is open");
    else if (bt_db__find(db, tree)) rc = bt_db__set_msg(BT_EEXISTS, "tree %s already exists", tree);
    if (!rc) rc = commit_import(db, tree, &h, root, b);
    pthread_mutex_unlock(&db->wlock);
    pthread_mutex_unlock(&db->fmu);
    db->kv->v->batch_free(b);
    bt_node_unref(root);
    if (!rc) fill_info(out, &h, size == UINT64_MAX ? 0 : size);
    return rc;
}
