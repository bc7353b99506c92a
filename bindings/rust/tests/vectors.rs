//! The reference vectors (../shared/vectors) through the safe API: the
//! prover files on an in-memory Tree (results, proofs, digests, and each
//! proof replayed by the verifier), verifier.jsonl, and the Basis data
//! points taken from the upstream tracker.
mod common;

use basistrees::basis::{self, AvlRegister};
use basistrees::{verify, verify_lookup, Op, Tree, Verifier, VerifyOptions};
use common::*;

/// Runs one prover vector file; returns the number of batches checked.
fn run_prover_file(name: &str) -> usize {
    let mut tree: Option<Tree> = None;
    let mut params = basistrees::Params::basis();
    let mut batches = 0;
    for line in vector_lines(name) {
        match line.get("type").str() {
            "scenario" => {
                params = params_of(&line);
                let mut t = Tree::new(&params).unwrap();
                assert_eq!(to_hex(&t.root_digest().unwrap()), line.get("initial_digest").str());
                assert_eq!(to_hex(&params.empty_digest().unwrap()), line.get("initial_digest").str());
                tree = Some(t);
            }
            "batch" => {
                let t = tree.as_mut().expect("batch before scenario");
                let ctx = format!("{name} {} batch {}", line.get("scenario").str(),
                                  line.get("batch_index").u64());
                let ops: Vec<Op> = line.get("ops").arr().iter().map(op_from_json).collect();
                let start = t.root_digest().unwrap();
                assert_eq!(to_hex(&start), line.get("start_digest").str(), "{ctx}: start");
                let results = t.apply_batch(&ops).unwrap();
                for (i, (r, w)) in results.iter().zip(line.get("results").arr()).enumerate() {
                    check_result(r, w, &format!("{ctx} op {i}"));
                }
                let proof = t.generate_proof().unwrap();
                assert_eq!(to_hex(&proof), line.get("proof").str(), "{ctx}: proof");
                let end = t.root_digest().unwrap();
                assert_eq!(to_hex(&end), line.get("end_digest").str(), "{ctx}: end digest");
                assert_eq!(t.len(), line.get("num_keys").u64(), "{ctx}: key count");
                assert_eq!(t.height() as u8, end[32], "{ctx}: height");

                // The verifier replays the succeeded operations.
                let ok_ops: Vec<Op> = ops.iter().zip(&results).filter(|(_, r)| r.is_ok())
                    .map(|(o, _)| o.clone()).collect();
                let v = verify(&params, &start, &proof, &ok_ops, &VerifyOptions::default())
                    .unwrap_or_else(|e| panic!("{ctx}: verifier rejected an honest proof: {e}"));
                assert_eq!(v.digest, end, "{ctx}: verifier digest");
                let want: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
                assert_eq!(v.values, want, "{ctx}: verifier values");
                batches += 1;
            }
            "scenario_end" => {
                let t = tree.as_mut().unwrap();
                assert_eq!(to_hex(&t.root_digest().unwrap()), line.get("final_digest").str());
                t.check().unwrap();
            }
            other => panic!("{name}: unknown line type {other}"),
        }
    }
    batches
}

#[test]
fn prover_basic() {
    assert_eq!(run_prover_file("prover_basic.jsonl"), 762 - 2 * count_scenarios("prover_basic.jsonl"));
}

#[test]
fn prover_random_fixed8() {
    assert!(run_prover_file("prover_random_fixed8.jsonl") > 0);
}

#[test]
fn prover_random_var() {
    assert!(run_prover_file("prover_random_var.jsonl") > 0);
}

fn count_scenarios(name: &str) -> usize {
    vector_lines(name).iter().filter(|l| l.get("type").str() == "scenario").count()
}

#[test]
fn verifier_vectors() {
    let mut n = 0;
    for line in vector_lines("verifier.jsonl") {
        let ctx = line.get("name").str().to_string();
        let params = params_of(&line);
        let opts = VerifyOptions {
            max_ops: line.get("max_num_operations").opt_u64(),
            max_deletes: line.get("max_deletes").opt_u64(),
        };
        let ops: Vec<Op> = line.get("ops").arr().iter().map(op_from_json).collect();
        let start = hex(line.get("start_digest").str());
        let proof = hex(line.get("proof").str());
        let reference = line.get("reference");

        // One operation at a time, to learn where a rejection happens.
        let mut failed_at: Option<usize> = None;
        let mut values = Vec::new();
        let mut digest = None;
        match Verifier::new(&params, &start, &proof, &opts) {
            Err(_) => failed_at = Some(usize::MAX),
            Ok(mut v) => {
                for (i, op) in ops.iter().enumerate() {
                    match v.apply(op) {
                        Ok(x) => values.push(x),
                        Err(_) => {
                            failed_at = Some(i);
                            break;
                        }
                    }
                }
                if failed_at.is_none() {
                    digest = Some(v.digest().unwrap());
                }
            }
        }
        let completed = failed_at.is_none();
        assert_eq!(completed, line.get("verifier_completed").bool(), "{ctx}: completed");
        if completed {
            assert_eq!(to_hex(&digest.unwrap()), reference.get("digest").str(), "{ctx}: digest");
            for (i, (got, want)) in values.iter().zip(reference.get("results").arr()).enumerate() {
                check_result(&Ok(got.clone()), want, &format!("{ctx} op {i}"));
            }
            // The one-call form agrees.
            let all = verify(&params, &start, &proof, &ops, &opts).unwrap();
            assert_eq!(Some(all.digest), digest, "{ctx}: verify()");
        } else if reference.get("outcome").str() == "op_error" {
            assert_eq!(failed_at, Some(reference.get("op_index").u64() as usize), "{ctx}: op index");
        }
        n += 1;
    }
    assert_eq!(n, 427);
}

#[test]
fn basis_upstream_data() {
    let mut checked = 0;
    for line in vector_lines("basis_upstream.jsonl") {
        match line.get("kind").str() {
            "key_derivation" => {
                let i: [u8; 33] = hex(line.get("issuer_pubkey").str()).try_into().unwrap();
                let r: [u8; 33] = hex(line.get("recipient_pubkey").str()).try_into().unwrap();
                assert_eq!(to_hex(&basis::note_key(&i, &r).unwrap()), line.get("key").str());
                checked += 1;
            }
            "tracker_lookup_proof" => {
                // A single-entry tracker tree reproduces the upstream proof.
                let key = hex(line.get("key").str());
                let value = hex(line.get("value").str());
                let digest = hex(line.get("tree_digest").str());
                let proof = hex(line.get("proof").str());
                let mut t = Tree::new(&basistrees::Params::basis()).unwrap();
                t.insert(&key, &value).unwrap();
                t.generate_proof().unwrap();
                assert_eq!(t.root_digest().unwrap().to_vec(), digest);
                assert_eq!(t.lookup(&key).unwrap(), Some(value.clone()));
                assert_eq!(t.generate_proof().unwrap(), proof, "upstream lookup proof");
                let p = basistrees::Params::basis();
                assert!(verify_lookup(&p, &digest, &proof, &key, Some(&value)));
                assert!(!verify_lookup(&p, &digest, &proof, &key, Some(&[0u8; 8])));
                assert!(!verify_lookup(&p, &[0u8; 33], &proof, &key, Some(&value)));
                let mut other = key.clone();
                other[31] ^= 1;
                assert!(!verify_lookup(&p, &digest, &proof, &other, Some(&value)));
                // Every truncation and every bit flip is rejected, never a crash.
                for n in 0..proof.len() {
                    assert!(!verify_lookup(&p, &digest, &proof[..n], &key, Some(&value)));
                }
                for i in 0..proof.len() * 8 {
                    let mut bad = proof.clone();
                    bad[i / 8] ^= 1 << (i % 8);
                    if verify_lookup(&p, &digest, &bad, &key, Some(&value)) {
                        // Only ignored padding bits of the direction byte may pass.
                        assert_eq!(i / 8, proof.len() - 1, "flipped bit {i} accepted");
                    }
                }
                checked += 1;
            }
            "reserve_insert_proof" => {
                let ops: Vec<Op> = match line.get("ops") {
                    common::Json::Arr(a) => a.iter().map(op_from_json).collect(),
                    _ => panic!("ops"),
                };
                let mut t = Tree::new(&basistrees::Params::basis()).unwrap();
                assert_eq!(to_hex(&t.root_digest().unwrap()), line.get("start_digest").str());
                let w = t.whatif(&ops).unwrap();
                assert_eq!(to_hex(&w.proof), line.get("proof").str());
                assert_eq!(to_hex(&w.digest), line.get("end_digest").str());
                assert_eq!(to_hex(&t.root_digest().unwrap()), line.get("start_digest").str(),
                           "what-if changed the tree");
                let reg = AvlRegister::tracker(w.digest).encode().unwrap();
                let want = line.get("r5_register").str();
                // Upstream wrote this register insert-only (flags 0x01).
                let decoded = AvlRegister::decode(&hex(want)).unwrap();
                assert_eq!(decoded.digest, w.digest);
                assert_eq!(AvlRegister { flags: decoded.flags, ..AvlRegister::tracker(w.digest) }
                               .encode().unwrap(), hex(want));
                assert_eq!(reg.len(), hex(want).len());
                checked += 1;
            }
            "avltree_register" => {
                let bytes = hex(line.get("register").str());
                let r = AvlRegister::decode(&bytes).unwrap();
                assert_eq!(r.encode().unwrap(), bytes, "register round trip");
                assert_eq!(r.key_len, 32);
                assert_eq!(r.value_len, None);
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 9, "only {checked} upstream data points checked");
}

#[test]
fn empty_tracker_register_matches_upstream() {
    // basis-tracker's empty tracker tree R5 (flags insert+update).
    let d = basistrees::Params::basis().empty_digest().unwrap();
    assert_eq!(to_hex(&AvlRegister::tracker(d).encode().unwrap()),
               "644ec61f485b98eb87153f7c57db4f5ecd75556fddbc403b41acf8441fde8e160900032000");
    assert!(AvlRegister::decode(&hex("6400")).is_err());
}
