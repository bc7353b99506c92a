//! The Basis encodings: note keys, tracker and reserve values, and the
//! SAvlTree register (R5) that carries a tree's digest on chain.
use crate::{check, ffi, Digest, Error, Result, DIGEST_LEN};

/// A compressed secp256k1 public key (33 bytes, first byte 0x02 or 0x03).
pub type PubKey = [u8; 33];

/// Note key = Blake2b-256(issuer || recipient).  [`crate::code::INVALID`]
/// if a key is not a compressed point encoding.
pub fn note_key(issuer: &PubKey, recipient: &PubKey) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    // SAFETY: fixed-size buffers of the lengths the C function reads/writes.
    check(unsafe { ffi::bt_basis_note_key(out.as_mut_ptr(), issuer.as_ptr(), recipient.as_ptr()) })?;
    Ok(out)
}

/// Tracker-tree value: the total debt, u64 big-endian.
pub fn tracker_value(total_debt: u64) -> [u8; 8] {
    let mut out = [0u8; 8];
    // SAFETY: 8-byte buffer.
    unsafe { ffi::bt_basis_tracker_value(out.as_mut_ptr(), total_debt) };
    out
}

/// Decodes a tracker value ([`crate::code::INVALID`] unless 8 bytes).
pub fn tracker_value_decode(value: &[u8]) -> Result<u64> {
    let mut v = 0u64;
    // SAFETY: the slice is valid for its length.
    check(unsafe { ffi::bt_basis_tracker_value_decode(&mut v, value.as_ptr(), value.len()) })?;
    Ok(v)
}

/// Reserve-tree value: timestamp u64 BE || redeemed u64 BE.
pub fn reserve_value(timestamp: u64, redeemed: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    // SAFETY: 16-byte buffer.
    unsafe { ffi::bt_basis_reserve_value(out.as_mut_ptr(), timestamp, redeemed) };
    out
}

/// Decodes a reserve value into (timestamp, redeemed).
pub fn reserve_value_decode(value: &[u8]) -> Result<(u64, u64)> {
    let (mut t, mut r) = (0u64, 0u64);
    // SAFETY: the slice is valid for its length.
    check(unsafe { ffi::bt_basis_reserve_value_decode(&mut t, &mut r, value.as_ptr(), value.len()) })?;
    Ok((t, r))
}

/// Flags of an SAvlTree.
pub const INSERT_ALLOWED: u8 = 0x01;
pub const UPDATE_ALLOWED: u8 = 0x02;
pub const REMOVE_ALLOWED: u8 = 0x04;

/// The contents of an Ergo SAvlTree register value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvlRegister {
    pub digest: Digest,
    pub flags: u8,
    pub key_len: u32,
    /// Some(n) for trees with fixed n-byte values.
    pub value_len: Option<u32>,
}

impl AvlRegister {
    /// The tracker's register: flags insert+update, 32-byte keys, variable values.
    pub fn tracker(digest: Digest) -> AvlRegister {
        AvlRegister { digest, flags: INSERT_ALLOWED | UPDATE_ALLOWED, key_len: 32, value_len: None }
    }

    /// 0x64 || digest || flags || VLQ(key_len) || value-length option.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let reg = ffi::bt_avl_register {
            digest: self.digest,
            flags: self.flags,
            key_len: self.key_len,
            has_value_len: self.value_len.is_some() as i32,
            value_len: self.value_len.unwrap_or(0),
        };
        let mut out = [0u8; ffi::BT_AVL_REGISTER_MAX];
        let mut n = 0usize;
        // SAFETY: out has the capacity given.
        check(unsafe { ffi::bt_avl_register_encode(out.as_mut_ptr(), out.len(), &mut n, &reg) })?;
        Ok(out[..n].to_vec())
    }

    /// Decodes a register value ([`crate::code::CORRUPT`] if malformed).
    pub fn decode(bytes: &[u8]) -> Result<AvlRegister> {
        let mut reg = ffi::bt_avl_register::default();
        // SAFETY: the slice is valid for its length.
        check(unsafe { ffi::bt_avl_register_decode(&mut reg, bytes.as_ptr(), bytes.len()) })?;
        Ok(AvlRegister {
            digest: reg.digest,
            flags: reg.flags,
            key_len: reg.key_len,
            value_len: if reg.has_value_len != 0 { Some(reg.value_len) } else { None },
        })
    }
}

/// Parses a 33-byte digest from a slice.
pub fn digest_from_slice(b: &[u8]) -> Result<Digest> {
    b.try_into().map_err(|_| Error::from_code(crate::code::INVALID)).map(|d: [u8; DIGEST_LEN]| d)
}
