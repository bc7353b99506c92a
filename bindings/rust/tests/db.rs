//! The database through the safe API: a persistence round trip (the
//! prover_random_var vectors committed batch by batch, closed, reopened),
//! errors with codes and messages, concurrent readers, stats, and the
//! tracker workflow of the upstream BasisAvlTree users.
mod common;

use basistrees::{code, basis, verify, verify_lookup, Db, DbOptions, Durability, Op, Params,
                 VerifyOptions};
use common::*;
use std::sync::Arc;

fn opts() -> DbOptions {
    DbOptions { durability: Durability::None, cache_bytes: 8 << 20, ..DbOptions::default() }
}

#[test]
fn defaults_come_from_the_header() {
    let o = DbOptions::default();
    assert!(o.create_if_missing);
    assert!(!o.read_only);
    assert_eq!(o.durability, Durability::Group);
    o.check().unwrap();
    let bad = DbOptions { zstd_level: 99, ..DbOptions::default() };
    let e = bad.check().unwrap_err();
    assert_eq!(e.code(), code::INVALID);
    assert!(e.message().contains("zstd"), "message names the field: {e}");
}

/// Every batch of prover_random_var.jsonl committed through a Db: results,
/// batch proofs and digests equal the vectors; after close and reopen the
/// digests, counts and values are still there.
#[test]
fn persistence_round_trip_with_vectors() {
    let dir = Scratch::new("persist");
    let path = dir.path("db");
    let mut finals: Vec<(String, String, u64)> = Vec::new();
    let mut last_key: Option<(String, Vec<u8>, Option<Vec<u8>>)> = None;
    {
        let db = Db::open(&path, &opts()).unwrap();
        let mut tree = String::new();
        for line in vector_lines("prover_random_var.jsonl") {
            match line.get("type").str() {
                "scenario" => {
                    tree = line.get("scenario").str().to_string();
                    db.create_tree(&tree, &params_of(&line)).unwrap();
                    assert_eq!(to_hex(&db.digest(&tree).unwrap()), line.get("initial_digest").str());
                }
                "batch" => {
                    let ctx = format!("{tree} batch {}", line.get("batch_index").u64());
                    let ops: Vec<Op> = line.get("ops").arr().iter().map(op_from_json).collect();
                    let mut b = db.begin().unwrap();
                    let results = b.apply(&tree, &ops).unwrap();
                    for (i, (r, w)) in results.iter().zip(line.get("results").arr()).enumerate() {
                        check_result(r, w, &format!("{ctx} op {i}"));
                    }
                    let (proof, digest) = b.prove(&tree).unwrap();
                    assert_eq!(to_hex(&proof), line.get("proof").str(), "{ctx}: proof");
                    assert_eq!(to_hex(&digest), line.get("end_digest").str(), "{ctx}: digest");
                    b.commit().unwrap();
                    assert_eq!(db.digest(&tree).unwrap(), digest);
                    assert_eq!(db.count(&tree).unwrap(), line.get("num_keys").u64());
                    // Remember a key written by an Insert/Update for the reopen check.
                    for (op, r) in ops.iter().zip(&results) {
                        if r.is_ok() {
                            let now = db.get(&tree, op.key()).unwrap();
                            last_key = Some((tree.clone(), op.key().to_vec(), now));
                        }
                    }
                }
                "scenario_end" => {
                    let d = to_hex(&db.digest(&tree).unwrap());
                    assert_eq!(d, line.get("final_digest").str());
                    finals.push((tree.clone(), d, line.get("num_keys").u64()));
                }
                _ => {}
            }
        }
        let s = db.stats().unwrap();
        assert_eq!(s.trees, finals.len() as u64);
        assert!(s.commits > 0 && s.ops > 0);
        db.close().unwrap();
    }
    let db = Db::open(&path, &opts()).unwrap();
    let mut names: Vec<String> = finals.iter().map(|f| f.0.clone()).collect();
    names.sort();
    assert_eq!(db.trees().unwrap(), names);
    for (tree, digest, count) in &finals {
        assert_eq!(&to_hex(&db.digest(tree).unwrap()), digest, "{tree} after reopen");
        assert_eq!(db.count(tree).unwrap(), *count);
        db.check(tree).unwrap();
    }
    let (tree, key, value) = last_key.unwrap();
    assert_eq!(db.get(&tree, &key).unwrap(), value);
    // A lookup proof from the reopened database verifies against its digest.
    let d = db.digest(&tree).unwrap();
    let (v, proof) = db.lookup_proof(&tree, &key).unwrap();
    assert_eq!(v, value);
    assert!(verify_lookup(&db.tree_params(&tree).unwrap(), &d, &proof, &key, v.as_deref()));
}

#[test]
fn errors_carry_code_and_message() {
    let dir = Scratch::new("errors");
    let db = Db::open(dir.path("db"), &opts()).unwrap();
    db.create_tree("t", &Params::basis()).unwrap();
    let e = db.create_tree("t", &Params::basis()).unwrap_err();
    assert_eq!(e.code(), code::EXISTS);
    assert!(!e.message().is_empty());
    db.create_tree_if_missing("t", &Params::basis()).unwrap();
    assert_eq!(db.create_tree_if_missing("t", &Params::fixed(32, 8)).unwrap_err().code(),
               code::INVALID);
    assert_eq!(db.digest("nope").unwrap_err().code(), code::NOT_FOUND);
    // A missing tree is an error, a missing key is None.
    assert_eq!(db.get("nope", &[1; 32]).unwrap_err().code(), code::NOT_FOUND);
    assert_eq!(db.get("t", &[1; 32]).unwrap(), None);
    assert_eq!(db.get("t", &[1; 5]).unwrap_err().code(), code::KEY_LENGTH);
    assert!(db.create_tree("bad\0name", &Params::basis()).is_err());

    // Operation failures are per operation; the batch goes on.
    let mut b = db.begin().unwrap();
    assert_eq!(db.begin().err().map(|e| e.code()), Some(code::BUSY), "second batch");
    b.insert("t", &[1; 32], b"a").unwrap();
    let e = b.insert("t", &[1; 32], b"b").unwrap_err();
    assert_eq!(e.code(), code::EXISTS);
    assert_eq!(e.class(), Some("key_already_exists"));
    assert_eq!(b.update("t", &[2; 32], b"x").unwrap_err().class(), Some("key_not_found"));
    assert_eq!(b.insert("t", &[0; 32], b"x").unwrap_err().code(), code::KEY_LOW);
    assert_eq!(b.apply("nope", &[Op::Lookup(vec![1; 32])]).unwrap_err().code(), code::NOT_FOUND);
    let info = b.commit().unwrap();
    assert_eq!(info.ops_logged, 1);
    assert_eq!(db.get("t", &[1; 32]).unwrap(), Some(b"a".to_vec()));

    // An aborted batch leaves nothing.
    let before = db.digest("t").unwrap();
    let mut b = db.begin().unwrap();
    b.insert("t", &[3; 32], b"c").unwrap();
    drop(b);
    assert_eq!(db.digest("t").unwrap(), before);
    assert_eq!(db.get("t", &[3; 32]).unwrap(), None);

    // A second writer on the same directory is refused.
    let e = Db::open(dir.path("db"), &opts()).err().expect("second open must fail");
    assert_eq!(e.code(), code::BUSY);
    assert!(e.to_string().contains(&e.message().to_string()));
}

/// The upstream tracker's flow on a persistent tree: debts as
/// InsertOrUpdate batches, a what-if proof for a redemption, lookup proofs
/// that a light client verifies.
#[test]
fn tracker_workflow() {
    let dir = Scratch::new("tracker");
    let db = Db::open(dir.path("db"), &opts()).unwrap();
    db.create_tree("tracker", &Params::basis()).unwrap();
    let empty = db.digest("tracker").unwrap();
    let mut keys = Vec::new();
    for i in 0..50u8 {
        let mut issuer = [i; 33];
        issuer[0] = 0x02;
        let mut recipient = [i.wrapping_add(100); 33];
        recipient[0] = 0x03;
        keys.push(basis::note_key(&issuer, &recipient).unwrap());
    }
    let mut b = db.begin().unwrap();
    for (i, k) in keys.iter().enumerate() {
        b.insert_or_update("tracker", k, &basis::tracker_value(1000 + i as u64)).unwrap();
    }
    let (proof, digest) = b.prove("tracker").unwrap();
    b.commit().unwrap();
    // The batch proof takes a verifier from the empty digest to the new one.
    let ops: Vec<Op> = keys.iter().enumerate()
        .map(|(i, k)| Op::InsertOrUpdate(k.to_vec(), basis::tracker_value(1000 + i as u64).to_vec()))
        .collect();
    let v = verify(&Params::basis(), &empty, &proof, &ops, &VerifyOptions::default()).unwrap();
    assert_eq!(v.digest, digest);

    // What-if: proof of a debt increase without changing the tree.
    let op = Op::InsertOrUpdate(keys[7].to_vec(), basis::tracker_value(5000).to_vec());
    let w = db.prove("tracker", std::slice::from_ref(&op)).unwrap();
    assert_eq!(w.results[0].as_ref().unwrap().as_deref(), Some(&basis::tracker_value(1007)[..]));
    assert_eq!(db.digest("tracker").unwrap(), digest, "what-if must not change the tree");
    let v = verify(&Params::basis(), &digest, &w.proof, std::slice::from_ref(&op),
                   &VerifyOptions::default())
        .unwrap();
    assert_eq!(v.digest, w.digest);
    let mut b = db.begin().unwrap();
    b.apply("tracker", &[op]).unwrap();
    b.commit().unwrap();
    assert_eq!(db.digest("tracker").unwrap(), w.digest, "the real update reaches the what-if digest");

    // Lookup proofs, present and absent.
    let d = db.digest("tracker").unwrap();
    let (val, proof) = db.lookup_proof("tracker", &keys[3]).unwrap();
    assert_eq!(basis::tracker_value_decode(val.as_ref().unwrap()).unwrap(), 1003);
    assert!(verify_lookup(&Params::basis(), &d, &proof, &keys[3], val.as_deref()));
    assert!(!verify_lookup(&Params::basis(), &d, &proof, &keys[3], Some(&basis::tracker_value(1))));
    let (none, proof) = db.lookup_proof("tracker", &[0x55; 32]).unwrap();
    assert_eq!(none, None);
    assert!(verify_lookup(&Params::basis(), &d, &proof, &[0x55; 32], None));
    assert!(!verify_lookup(&Params::basis(), &d, &proof, &[0x55; 32], Some(b"x")));
}

/// Db is Send + Sync: readers prove against the committed version from
/// several threads while the writer commits.
#[test]
fn concurrent_readers() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
    fn assert_send<T: Send>() {}
    assert_send::<basistrees::Tree>();
    assert_send::<basistrees::Verifier>();

    let dir = Scratch::new("threads");
    let db = Arc::new(Db::open(dir.path("db"), &opts()).unwrap());
    db.create_tree("t", &Params::fixed(8, 8)).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3).map(|r| {
        let db = Arc::clone(&db);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut proofs = 0u64;
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || proofs == 0 {
                let key = (i % 500 + 1).to_be_bytes();
                let p = db.prove("t", &[Op::Lookup(key.to_vec())]).unwrap();
                // The proof is against the digest it returns (lookups keep it).
                let v = verify(&Params::fixed(8, 8), &p.digest, &p.proof, &[Op::Lookup(key.to_vec())],
                               &VerifyOptions::default()).unwrap();
                assert_eq!(v.digest, p.digest, "reader {r}");
                assert_eq!(v.values[0], *p.results[0].as_ref().unwrap());
                proofs += 1;
                i += 7;
            }
            proofs
        })
    }).collect();
    for c in 0..20u64 {
        let mut b = db.begin().unwrap();
        for k in 0..25u64 {
            let key = (c * 25 + k + 1).to_be_bytes();
            b.insert("t", &key, &(c * 1000 + k).to_be_bytes()).unwrap();
        }
        b.commit().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total >= 3);
    assert_eq!(db.count("t").unwrap(), 500);
    db.check("t").unwrap();
}

#[test]
fn in_memory_tree_like_basis_avl_tree() {
    // The upstream BasisAvlTree calls: insert, update, generate_proof, root_digest.
    let mut t = basistrees::Tree::new(&Params::basis()).unwrap();
    let d0 = t.root_digest().unwrap();
    t.insert(&[1; 32], &[2; 32]).unwrap();
    assert_ne!(t.root_digest().unwrap(), d0);
    let d1 = t.root_digest().unwrap();
    assert_eq!(t.update(&[1; 32], &[3; 32]).unwrap(), vec![2; 32]);
    assert_ne!(t.root_digest().unwrap(), d1);
    let proof = t.generate_proof().unwrap();
    assert!(!proof.is_empty());
    // Generating a proof changes neither the digest nor the contents.
    let d2 = t.root_digest().unwrap();
    t.generate_proof().unwrap();
    assert_eq!(t.root_digest().unwrap(), d2);
    assert_eq!(t.get(&[1; 32]).unwrap(), Some(vec![3; 32]));
    assert_eq!(t.remove(&[1; 32]).unwrap(), vec![3; 32]);
    assert_eq!(t.remove(&[1; 32]).unwrap_err().code(), code::NOT_FOUND);
    assert_eq!(t.insert(&[1; 31], b"x").unwrap_err().code(), code::KEY_LENGTH);
    t.discard();
    assert_eq!(t.root_digest().unwrap(), d2);
    assert_eq!(t.len(), 1);
}
