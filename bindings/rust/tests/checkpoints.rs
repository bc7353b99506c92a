//! Checkpoints, reads and proofs at a checkpoint, rollback and the
//! operation log through the safe API (the tracker's confirmed / pending /
//! local roots and reorg rollback).
mod common;

use basistrees::{code, verify_lookup, Db, DbOptions, Durability, Op, Params};
use common::*;

fn open(dir: &Scratch) -> Db {
    let o = DbOptions { durability: Durability::None, ..DbOptions::default() };
    Db::open(dir.path("db"), &o).unwrap()
}

fn put(db: &Db, tree: &str, kvs: &[(u8, u64)], ts_ms: u64) -> basistrees::CommitInfo {
    let mut b = db.begin().unwrap();
    b.set_time(ts_ms);
    for (k, v) in kvs {
        b.insert_or_update(tree, &[*k; 32], &v.to_be_bytes()).unwrap();
    }
    b.commit().unwrap()
}

#[test]
fn checkpoint_reads_and_rollback() {
    let dir = Scratch::new("ckpt");
    let db = open(&dir);
    db.create_tree("tracker", &Params::basis()).unwrap();
    assert_eq!(db.checkpoint(0).unwrap_err().code(), code::NOT_FOUND, "no checkpoint yet");

    put(&db, "tracker", &[(1, 10), (2, 20)], 1_000);
    let d1 = db.digest("tracker").unwrap();
    let c1 = db.checkpoint_create(Some("tx-confirmed")).unwrap();
    put(&db, "tracker", &[(1, 11), (3, 30)], 2_000);
    let d2 = db.digest("tracker").unwrap();
    assert_ne!(d1, d2);
    let c2 = db.checkpoint_create(None).unwrap();
    assert!(c2 > c1);

    // Checkpoint records.
    let cp = db.checkpoint(c1).unwrap();
    assert_eq!(cp.id, c1);
    assert_eq!(cp.label, "tx-confirmed");
    assert_eq!(cp.trees.len(), 1);
    assert_eq!(cp.trees[0].name, "tracker");
    assert_eq!(cp.trees[0].digest, d1);
    assert_eq!(cp.trees[0].count, 2);
    assert_eq!(db.checkpoint(0).unwrap().id, c2, "id 0 is the newest");
    let all = db.checkpoints().unwrap();
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c1, c2]);
    db.checkpoint_validate(c1).unwrap();

    // Reads and proofs against the confirmed version while the head moved on.
    assert_eq!(db.digest_at("tracker", c1).unwrap(), d1);
    assert_eq!(db.count_at("tracker", c1).unwrap(), 2);
    assert_eq!(db.get_at("tracker", c1, &[1; 32]).unwrap(), Some(10u64.to_be_bytes().to_vec()));
    assert_eq!(db.get_at("tracker", c1, &[3; 32]).unwrap(), None);
    assert_eq!(db.get("tracker", &[1; 32]).unwrap(), Some(11u64.to_be_bytes().to_vec()));
    assert_eq!(db.get_at("tracker", 999, &[1; 32]).unwrap_err().code(), code::NOT_FOUND);
    assert_eq!(db.digest_at("nope", c1).unwrap_err().code(), code::NOT_FOUND);
    let p = db.prove_at("tracker", c1, &[Op::Lookup(vec![1; 32])]).unwrap();
    assert_eq!(p.digest, d1);
    assert!(verify_lookup(&Params::basis(), &d1, &p.proof, &[1; 32], Some(&10u64.to_be_bytes())));
    assert!(!verify_lookup(&Params::basis(), &d2, &p.proof, &[1; 32], Some(&10u64.to_be_bytes())));

    // Operation log.
    let (first, last) = db.oplog_bounds().unwrap();
    assert_eq!((first, last), (1, 4));
    let log = db.oplog_range(1, u64::MAX).unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log.iter().map(|e| e.op_seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(log[0].tree, "tracker");
    assert_eq!(log[0].op, Op::InsertOrUpdate(vec![1; 32], 10u64.to_be_bytes().to_vec()));
    assert_eq!(log[0].prev, None);
    assert_eq!(log[0].digest, d1);
    assert_eq!(log[2].prev, Some(10u64.to_be_bytes().to_vec()));
    assert_eq!(log[3].digest, d2);
    assert_eq!(log[2].ts_ms, 2_000);
    let mut seen = 0;
    db.oplog_range_with(1, u64::MAX, |_| {
        seen += 1;
        seen < 2
    }).unwrap();
    assert_eq!(seen, 2, "returning false stops the walk");
    match db.oplog_key("tracker", &[1; 32]) {
        Ok(h) => assert_eq!(h.iter().map(|e| e.op_seq).collect::<Vec<_>>(), vec![1, 3]),
        Err(e) => assert_eq!(e.code(), code::NOT_SUPPORTED, "{e}"),
    }
    match db.oplog_time(1_500, 2_500) {
        Ok(h) => assert_eq!(h.iter().map(|e| e.op_seq).collect::<Vec<_>>(), vec![3, 4]),
        Err(e) => assert_eq!(e.code(), code::NOT_SUPPORTED, "{e}"),
    }

    // Reorg: roll back to the confirmed checkpoint.
    {
        let _open = db.begin().unwrap();
        assert_eq!(db.rollback(c1).unwrap_err().code(), code::BUSY, "batch open");
    }
    db.rollback(c1).unwrap();
    assert_eq!(db.digest("tracker").unwrap(), d1);
    assert_eq!(db.get("tracker", &[3; 32]).unwrap(), None);
    assert_eq!(db.checkpoints().unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), vec![c1]);
    assert_eq!(db.oplog_bounds().unwrap().1, 2, "later operations are discarded");
    // The sequence continues from the checkpoint.
    let info = put(&db, "tracker", &[(4, 40)], 3_000);
    assert_eq!(info.last_op_seq, 3);
    db.checkpoint_delete(c1).unwrap();
    assert_eq!(db.checkpoint(c1).unwrap_err().code(), code::NOT_FOUND);
    assert_eq!(db.checkpoint_delete(c1).unwrap_err().code(), code::NOT_FOUND);
}

#[test]
fn checkpoints_survive_reopen() {
    let dir = Scratch::new("ckpt-reopen");
    let (c, d) = {
        let db = open(&dir);
        db.create_tree("reserve", &Params::basis()).unwrap();
        put(&db, "reserve", &[(9, 100_000_000)], 1);
        let c = db.checkpoint_create(Some("first")).unwrap();
        let d = db.digest("reserve").unwrap();
        put(&db, "reserve", &[(9, 200_000_000)], 2);
        db.close().unwrap();
        (c, d)
    };
    let db = open(&dir);
    assert_eq!(db.get("reserve", &[9; 32]).unwrap(), Some(200_000_000u64.to_be_bytes().to_vec()));
    assert_eq!(db.digest_at("reserve", c).unwrap(), d);
    assert_eq!(db.get_at("reserve", c, &[9; 32]).unwrap(), Some(100_000_000u64.to_be_bytes().to_vec()));
    assert_eq!(db.checkpoint(0).unwrap().label, "first");
}
