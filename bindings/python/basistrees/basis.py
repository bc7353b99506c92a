"""The Basis encodings: note keys, tracker and reserve values, and the
SAvlTree register (R5) that carries a tree digest on chain."""
import ctypes
from collections import namedtuple
from ctypes import byref, c_size_t, c_uint64

from . import _bytes, _check, _lib
from ._lib import lib

INSERT_ALLOWED, UPDATE_ALLOWED, REMOVE_ALLOWED = 0x01, 0x02, 0x04


def note_key(issuer, recipient):
    """Blake2b-256(issuer || recipient), both 33-byte compressed public keys."""
    issuer, recipient = _bytes(issuer, "issuer"), _bytes(recipient, "recipient")
    if len(issuer) != 33 or len(recipient) != 33:
        raise ValueError("public keys are 33 bytes")
    out = (ctypes.c_uint8 * 32)()
    _check(lib.bt_basis_note_key(out, issuer, recipient))
    return bytes(out)


def tracker_value(total_debt):
    """The tracker-tree value: total debt, u64 big-endian."""
    out = (ctypes.c_uint8 * 8)()
    lib.bt_basis_tracker_value(out, total_debt)
    return bytes(out)


def tracker_value_decode(value):
    value = _bytes(value, "value")
    v = c_uint64()
    _check(lib.bt_basis_tracker_value_decode(byref(v), value, len(value)))
    return v.value


def reserve_value(timestamp, redeemed):
    """The reserve-tree value: timestamp u64 BE || redeemed u64 BE."""
    out = (ctypes.c_uint8 * 16)()
    lib.bt_basis_reserve_value(out, timestamp, redeemed)
    return bytes(out)


def reserve_value_decode(value):
    """(timestamp, redeemed)."""
    value = _bytes(value, "value")
    t, r = c_uint64(), c_uint64()
    _check(lib.bt_basis_reserve_value_decode(byref(t), byref(r), value, len(value)))
    return t.value, r.value


class AvlRegister(namedtuple("AvlRegister", "digest flags key_len value_len")):
    """An Ergo SAvlTree register value; value_len None for variable values."""
    __slots__ = ()

    @classmethod
    def tracker(cls, digest):
        """The tracker's R5: insert+update, 32-byte keys, variable values."""
        return cls(bytes(digest), INSERT_ALLOWED | UPDATE_ALLOWED, 32, None)

    def encode(self):
        reg = _lib.bt_avl_register()
        if len(self.digest) != _lib.DIGEST_LEN:
            raise ValueError("digest must be 33 bytes")
        reg.digest[:] = list(self.digest)
        reg.flags = self.flags
        reg.key_len = self.key_len
        reg.has_value_len = self.value_len is not None
        reg.value_len = self.value_len or 0
        out = ctypes.create_string_buffer(_lib.AVL_REGISTER_MAX)
        n = c_size_t()
        _check(lib.bt_avl_register_encode(out, _lib.AVL_REGISTER_MAX, byref(n), byref(reg)))
        return out.raw[:n.value]

    @classmethod
    def decode(cls, data):
        data = _bytes(data, "register")
        reg = _lib.bt_avl_register()
        _check(lib.bt_avl_register_decode(byref(reg), data, len(data)))
        return cls(bytes(reg.digest), reg.flags, reg.key_len,
                   reg.value_len if reg.has_value_len else None)
