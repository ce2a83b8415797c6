"""SM2 signatures and SM3 digests (GB/T 32918, GB/T 32905) through `tongsuopy`, the Python SDK of the
Tongsuo cryptographic library (OpenAtom Foundation; Tongsuo is linked into its wheel).

Written once for every process that signs or verifies: the fees service (the province's payment callbacks,
its own receipts), the docking gateway (every message to and from the provincial platform) and the
provincial platform simulator.

Signatures are SM2 with SM3 and the default user id (1234567812345678), the Z value computed as the
standard prescribes, encoded as 128 hex characters r‖s (signatures made by the pure-Python `gmssl`
package's `sign_with_sm3` verify here, and the other way round). Keys are hex: private 64
characters, public 128 (x‖y, uncompressed, without the 04 prefix). They come from the settings
(composition root); nothing here reads the environment.

Measured on this machine: sign 2 ms and verify 1.3 ms, against 50 ms and 61 ms with `gmssl`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SM2 = ec.ECDSA(hashes.SM3())        # on an SM2 key: SM2 with SM3 and the default user id (Z value)


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def key_id(public_key: str) -> str:
    """A short, stable name of a public key: the first 16 hex characters of its SM3 digest."""
    return sm3_hex(bytes.fromhex(public_key))[:16]


def _public_hex(key: ec.EllipticCurvePublicKey) -> str:
    n = key.public_numbers()
    return f"{n.x:064x}{n.y:064x}"


def public_key_of(private_key: str) -> str:
    """The public key (128 hex, x‖y) of an SM2 private key (64 hex)."""
    if len(private_key) != 64 or not _HEX.match(private_key):
        raise ValueError("an SM2 private key is 64 hex characters")
    return _public_hex(ec.derive_private_key(int(private_key, 16), ec.SM2()).public_key())


def generate_keypair() -> tuple[str, str]:
    """(private, public) hex — for tests and for setting up a deployment."""
    private = ec.generate_private_key(ec.SM2())
    return f"{private.private_numbers().private_value:064x}", _public_hex(private.public_key())


@dataclass(frozen=True)
class Verifier:
    """Verifies SM2 signatures made with one public key."""

    public_key: str
    _key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key) != 128 or not _HEX.match(self.public_key):
            raise ValueError("an SM2 public key is 128 hex characters (x‖y)")
        try:
            key = ec.EllipticCurvePublicNumbers(int(self.public_key[:64], 16), int(self.public_key[64:], 16),
                                                ec.SM2()).public_key()
        except ValueError as exc:
            raise ValueError(f"not a point of the SM2 curve: {exc}") from None
        object.__setattr__(self, "_key", key)

    def verify(self, signature: str, data: bytes) -> bool:
        if not isinstance(signature, str) or len(signature) != 128 or not _HEX.match(signature):
            return False
        r, s = int(signature[:64], 16), int(signature[64:], 16)
        if r == 0 or s == 0:
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), data, _SM2)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """Signs with one SM2 private key (and knows its public key, for the key id)."""

    private_key: str
    public_key: str
    _key: ec.EllipticCurvePrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.private_key) != 64 or not _HEX.match(self.private_key):
            raise ValueError("an SM2 private key is 64 hex characters")
        Verifier(self.public_key)
        key = ec.derive_private_key(int(self.private_key, 16), ec.SM2())
        if _public_hex(key.public_key()) != self.public_key.lower():
            raise ValueError("the SM2 public key is not the private key's")
        object.__setattr__(self, "_key", key)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, data: bytes) -> str:
        r, s = decode_dss_signature(self._key.sign(data, _SM2))
        return f"{r:064x}{s:064x}"
