/*
 * crash_stream.h -- the deterministic transaction stream shared by the crash
 * writer and the crash checker (tests/crash/README.md).
 *
 * The torture directory DIR holds:
 *   DIR/params   the stream's parameters (text, written once by "init")
 *   DIR/db/      the database under test
 *   DIR/ready    the running writer's pid, written once its open is over
 *   DIR/acks     the writer's acknowledgement file (lines, appended):
 *                  S <pid> <start_seq>          a writer session started
 *                  P <seq>                      about to commit seq (write();
 *                                               fdatasync'd if CRASH_SYNC_PREACK=1)
 *                  A <seq> <hex tracker> <hex reserve>
 *                                               seq is durable (fdatasync'd)
 *                  W <seq> <hex tracker> <hex reserve>
 *                                               seq committed, durability not
 *                                               promised (group without wait,
 *                                               mode none; plain write())
 *                  Q <seq>                      about to roll back to the
 *                                               checkpoint of commit seq (fdatasync'd)
 *                  R <seq> <hex tracker> <hex reserve>
 *                                               rolled back to commit seq (durable)
 *                A line is written with one write(); a torn last line (no
 *                newline) is ignored by the reader.
 *
 * Checkpoints (not part of the stream: they do not change the trees): after
 * commit k with k % CS_CKPT_EVERY == 0 the writer creates one (retention:
 * the newest CS_CKPT_KEEP); every CS_PRUNE_EVERY commits it prunes the log
 * below the oldest; after commit k with k % CS_ROLLBACK_EVERY == 0 it rolls
 * back, one time in two, to the newest checkpoint and goes on from there.
 * Since transaction k is a pure function of k, the state after a rollback to
 * commit c and the re-commit of c+1.. is again the stream's.
 *
 * Transaction k (k = 1, 2, ...) is a pure function of (params, k): its
 * operations come from a PRNG seeded with (seed, k).  Its first operation is
 * always an InsertOrUpdate, so every transaction logs at least one operation
 * and commit k gets commit_seq k.  Every reset_every-th transaction removes
 * every key of both trees and inserts one: a removal of everything leaves the
 * canonical empty tree whatever the history was, so the state after commit k
 * can be rebuilt by replaying only from the last reset point.  That keeps the
 * checker's replay bounded however long the loop runs.
 */
#ifndef BT_CRASH_STREAM_H
#define BT_CRASH_STREAM_H

#include "basistrees.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_NTREES 2
#define CS_KEY_LEN 32
#define CS_RESERVE_VALUE_LEN 16
#define CS_TRACKER_VALUE_MAX 40 /* tracker values are 0..40 bytes */
#define CS_TXN_OPS_MAX 500
#define CS_KEYS_MAX 50000u
#define CS_PATH_MAX 4096
#define CS_LINE_MAX 256
#define CS_CKPT_EVERY 7
#define CS_CKPT_KEEP 3
#define CS_PRUNE_EVERY 50
#define CS_ROLLBACK_EVERY 29

extern const char *const cs_tree_names[CS_NTREES]; /* "tracker", "reserve" */

typedef enum cs_mode { CS_MODE_SYNC = 0, CS_MODE_GROUP = 1, CS_MODE_NONE = 2 } cs_mode;

typedef struct cs_params {
    uint64_t seed;
    uint32_t keys;        /* keyspace per tree                         */
    uint32_t reset_every; /* commit k, k % reset_every == 0, empties both trees */
    uint64_t flush_ops;   /* bt_db_options.flush_ops                   */
    cs_mode mode;
} cs_params;

#define CS_PARAMS_DEFAULT {20240601u, 3000u, 400u, 2000u, CS_MODE_SYNC}

typedef struct cs_op {
    uint8_t tree;  /* 0 tracker, 1 reserve */
    uint8_t type;  /* bt_op_type */
    uint8_t vlen;
    uint32_t key;  /* index into the tree's keyspace */
    uint8_t val[CS_TRACKER_VALUE_MAX];
} cs_op;

typedef struct cs_stream {
    cs_params p;
    uint8_t *keys;       /* CS_NTREES * p.keys * CS_KEY_LEN */
    cs_op *ops;          /* the current transaction           */
    size_t nops, capops;
    bool wait_durable;   /* group mode: the writer waits for this commit */
} cs_stream;

/* Parses "sync" | "group" | "none".  Returns 0 or -1. */
int cs_mode_parse(cs_mode *out, const char *s);
const char *cs_mode_name(cs_mode m);

/* The parameters of tree t (0 tracker: variable values; 1 reserve: 16 bytes). */
void cs_tree_params(bt_params *out, unsigned t);

/* Database options for a torture directory (durability, flush_ops). */
void cs_db_options(bt_db_options *out, const cs_params *p);

/* DIR/params: write (fdatasync'd) / read.  Return 0 or -1 with a message on stderr. */
int cs_params_write(const char *dir, const cs_params *p);
int cs_params_read(cs_params *out, const char *dir);

/* Allocates the keyspace and the op buffer.  Returns 0 or -1 (out of memory). */
int cs_stream_init(cs_stream *s, const cs_params *p);
void cs_stream_dispose(cs_stream *s);

/* Generates transaction k (>= 1) into s->ops[0..s->nops). */
void cs_stream_txn(cs_stream *s, uint64_t k);

/* Operation i of the current transaction as a bt_op; pointers borrowed from s. */
void cs_stream_op(bt_op *out, const cs_stream *s, size_t i);

/* Key idx of tree t (borrowed from s). */
const uint8_t *cs_key(const cs_stream *s, unsigned t, uint32_t idx);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void cs_hex(char *out, const uint8_t *in, size_t n);
/* Parses exactly 2n hex digits.  Returns 0 or -1. */
int cs_unhex(uint8_t *out, size_t n, const char *in, size_t inlen);

/* Writes len bytes with one write() (retrying a short write), then
 * fdatasync() if sync.  Returns 0 or -1 (errno set). */
int cs_write_all(int fd, const char *buf, size_t len, bool sync);

/* fsync of a directory, so that a file created in it survives a power cut. */
int cs_fsync_dir(const char *dir);

#endif
