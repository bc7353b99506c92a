/*
 * nodes.c -- the plan's node API: stored nodes by label, in batches and by
 * label range, through the optional label index (index_labels;
 * docs/FORMAT.md 4.6).  Read-only: safe from any thread.  Every node
 * returned is checked: its label is recomputed from the stored bytes and
 * must equal the label it was found under.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <string.h>

void bt_db__label_key(uint8_t out[BT_LABEL_INDEX_KEY], const uint8_t label[32], uint32_t tree_id,
                      uint64_t node_id)
{
    out[0] = 'L';
    memcpy(out + 1, label, 32);
    bt_store_u32be(out + 33, tree_id);
    bt_store_u64be(out + 37, node_id);
}

void bt_db__node_del(bt_db *db, bt_kv_batch *b, uint64_t node_id, uint32_t tree_id,
                     const uint8_t label[32])
{
    uint8_t k[8];
    bt_store_u64be(k, node_id);
    db->kv->v->batch_del(b, BT_CF_NODES, k, 8);
    if (db->o.index_labels) {
        uint8_t ik[BT_LABEL_INDEX_KEY];
        bt_db__label_key(ik, label, tree_id, node_id);
        db->kv->v->batch_del(b, BT_CF_INDEXES, ik, sizeof ik);
    }
}

/* Loads node id (of a tree with parameters p) into *out; out->data owns the
 * record bytes the pointers point into. */
static int load_info(bt_node_info *out, bt_db *db, const bt_params *p, uint64_t id,
                     const uint8_t want[32])
{
    memset(out, 0, sizeof *out);
    uint8_t k[8];
    bt_store_u64be(k, id);
    bt_buf v = BT_BUF_INIT;
    int rc = db->kv->v->get(db->kv, BT_CF_NODES, k, 8, &v, bt_db__msg, sizeof bt_db__msg);
    if (rc == BT_ENOTFOUND)
        return bt_db__set_msg(BT_ECORRUPT, "label index names node %llu, which is not stored",
                              (unsigned long long)id);
    if (rc) {
        bt_buf_free(&v);
        return rc;
    }
    bt_rec_node r;
    unsigned klen = p->key_len;
    if (bt_rec_node_decode(&r, v.data, v.len, klen, p->value_len)) {
        bt_buf_free(&v);
        return bt_db__set_msg(BT_ECORRUPT, "node %llu: record is damaged", (unsigned long long)id);
    }
    out->id = id;
    out->kind = r.kind;
    out->key = r.key;
    out->key_len = klen;
    if (r.kind == 1) {
        out->next = r.next;
        out->value = r.value;
        out->value_len = r.vlen;
        bt_label_leaf(out->label, klen, r.key, r.value, r.vlen, r.next);
    } else {
        out->balance = r.balance;
        out->left_id = r.left_id;
        out->right_id = r.right_id;
        memcpy(out->left_label, r.left_label, 32);
        memcpy(out->right_label, r.right_label, 32);
        bt_label_internal(out->label, r.balance, r.left_label, r.right_label);
    }
    size_t len;
    out->data = bt_buf_take(&v, &len); /* the same bytes: pointers stay valid */
    if (want && memcmp(out->label, want, 32) != 0) {
        bt_free(out->data);
        memset(out, 0, sizeof *out);
        return bt_db__set_msg(BT_ECORRUPT, "node %llu does not have the label it is indexed under",
                              (unsigned long long)id);
    }
    return 0;
}

static int tree_of(bt_params *p, uint32_t *id, bt_db *db, const char *tree)
{
    if (!db->o.index_labels)
        return bt_db__set_msg(BT_ENOTSUP, "the label index is off (option index_labels)");
    pthread_mutex_lock(&db->rlock);
    dbtree *dt = tree ? bt_db__find(db, tree) : NULL;
    if (dt) {
        *p = dt->p;
        *id = dt->id;
    }
    pthread_mutex_unlock(&db->rlock);
    return dt ? 0 : bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", tree ? tree : "(null)");
}

/* Finds the id of the node of tree tid with this label: 0 if none. */
static int find_id(uint64_t *out, bt_kv_iter *it, bt_db *db, const uint8_t label[32], uint32_t tid)
{
    uint8_t k[BT_LABEL_INDEX_KEY];
    bt_db__label_key(k, label, tid, 0);
    *out = 0;
    db->kv->v->iter_seek(it, k, sizeof k);
    if (db->kv->v->iter_valid(it)) {
        size_t kl;
        const uint8_t *ik = db->kv->v->iter_key(it, &kl);
        if (kl == BT_LABEL_INDEX_KEY && memcmp(ik, k, 37) == 0) *out = bt_load_u64be(ik + 37);
    }
    return db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
}

int bt_db_nodes_get(bt_node_info *out, bt_db *db, const char *tree,
                    const uint8_t (*labels)[BT_LABEL_LEN], size_t n)
{
    bt_params p;
    uint32_t tid = 0;
    int rc = tree_of(&p, &tid, db, tree);
    if (rc) return rc;
    if (!labels && n) return bt_db__set_msg(BT_EINVAL, "no labels");
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_INDEXES);
    if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t id;
        memset(&out[i], 0, sizeof out[i]);
        if ((rc = find_id(&id, it, db, labels[i], tid))) break;
        if (id && (rc = load_info(&out[i], db, &p, id, labels[i]))) break;
    }
    db->kv->v->iter_free(it);
    if (rc) {
        for (size_t j = 0; j < i; j++) {
            bt_free(out[j].data);
            memset(&out[j], 0, sizeof out[j]);
        }
    }
    return rc;
}

int bt_db_node_get(bt_node_info *out, bt_db *db, const char *tree, const uint8_t label[BT_LABEL_LEN])
{
    int rc = bt_db_nodes_get(out, db, tree, (const uint8_t(*)[BT_LABEL_LEN])label, 1);
    if (!rc && !out->kind) rc = bt_db__set_msg(BT_ENOTFOUND, "no stored node with that label");
    return rc;
}

int bt_db_nodes_range(bt_db *db, const uint8_t from[BT_LABEL_LEN], const uint8_t to[BT_LABEL_LEN],
                      int (*fn)(void *ctx, const char *tree, const bt_node_info *info), void *ctx)
{
    if (!db->o.index_labels)
        return bt_db__set_msg(BT_ENOTSUP, "the label index is off (option index_labels)");
    if (!from || !to || !fn) return bt_db__set_msg(BT_EINVAL, "missing argument");
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_INDEXES);
    if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint8_t k[BT_LABEL_INDEX_KEY];
    bt_db__label_key(k, from, 0, 0);
    int rc = 0;
    for (db->kv->v->iter_seek(it, k, sizeof k); !rc && db->kv->v->iter_valid(it);
         db->kv->v->iter_next(it)) {
        size_t kl;
        const uint8_t *ik = db->kv->v->iter_key(it, &kl);
        if (kl != BT_LABEL_INDEX_KEY || ik[0] != 'L' || memcmp(ik + 1, to, 32) > 0) break;
        uint32_t tid = bt_load_u32be(ik + 33);
        char name[BT_TREE_NAME_MAX + 1] = "";
        bt_params p;
        pthread_mutex_lock(&db->rlock);
        dbtree *dt = bt_db__find_id(db, tid);
        if (dt) {
            p = dt->p;
            memcpy(name, dt->name, sizeof name);
        }
        pthread_mutex_unlock(&db->rlock);
        if (!dt) {
            rc = bt_db__set_msg(BT_ECORRUPT, "label index names unknown tree %u", tid);
            break;
        }
        bt_node_info info;
        if ((rc = load_info(&info, db, &p, bt_load_u64be(ik + 37), ik + 1))) break;
        rc = fn(ctx, name, &info);
        bt_free(info.data);
    }
    if (!rc) rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(it);
    return rc;
}
