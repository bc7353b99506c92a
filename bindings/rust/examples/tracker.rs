//! A Basis tracker on a persistent tree, the way the upstream tracker uses
//! `BasisAvlTree` -- but durable, with checkpoints for the on-chain root.
//!
//!   cargo run --release --example tracker -- DIR [NOTES]
//!
//! Adds NOTES debts (default 10000) in commits of 1000, pins the result as
//! the "confirmed" checkpoint, raises one debt, and serves lookup proofs
//! against both the confirmed and the local root; prints timings.
use basistrees::{basis, verify_lookup, Db, DbOptions, Durability, Params};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).ok_or("usage: tracker DIR [NOTES]")?;
    let notes: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(10_000);

    let opts = DbOptions { durability: Durability::Group, ..DbOptions::default() };
    let db = Db::open(dir, &opts)?;
    db.create_tree_if_missing("tracker", &Params::basis())?;
    let key = |i: u64| {
        let mut issuer = [0x02u8; 33];
        issuer[1..9].copy_from_slice(&(i % 97).to_be_bytes());
        let mut recipient = [0x03u8; 33];
        recipient[1..9].copy_from_slice(&i.to_be_bytes());
        basis::note_key(&issuer, &recipient)
    };

    let start = Instant::now();
    let mut i = 0;
    while i < notes {
        let mut batch = db.begin()?;
        for j in i..(i + 1000).min(notes) {
            let k = key(j)?;
            let old = db.get("tracker", &k)?.map(|v| basis::tracker_value_decode(&v)).transpose()?;
            batch.insert_or_update("tracker", &k, &basis::tracker_value(old.unwrap_or(0) + 100 + j))?;
        }
        batch.commit()?;
        i += 1000;
    }
    println!("{notes} notes committed in {:.2} s", start.elapsed().as_secs_f64());

    let confirmed = db.checkpoint_create(Some("confirmed"))?;
    let mut batch = db.begin()?;
    batch.update("tracker", &key(0)?, &basis::tracker_value(1_000_000))?;
    batch.commit()?;

    let k0 = key(0)?;
    for (name, cp) in [("confirmed", confirmed), ("local", 0)] {
        let digest = db.digest_at("tracker", cp)?;
        let proof = db.prove_at("tracker", cp, &[basistrees::Op::Lookup(k0.to_vec())])?;
        let value = proof.results[0].clone()?;
        assert!(verify_lookup(&Params::basis(), &digest, &proof.proof, &k0, value.as_deref()));
        println!("{name:9} root {}.. note 0 total {} (proof {} bytes, verified)",
                 digest[..6].iter().map(|b| format!("{b:02x}")).collect::<String>(),
                 basis::tracker_value_decode(value.as_deref().unwrap_or_default())?,
                 proof.proof.len());
    }
    let reg = basis::AvlRegister::tracker(db.digest("tracker")?).encode()?;
    println!("R5: {}", reg.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let s = db.stats()?;
    println!("stats: {} commits, {} ops, {} notes, commit p50 {} us",
             s.commits, s.ops, s.notes, s.commit_ns_p50 / 1000);
    db.close()?;
    Ok(())
}
