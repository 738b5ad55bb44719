"""WinZip AES-256 encryption of zip members (AE-2), sans-IO.

Facts from WinZip's "AES Encryption Information" (AE-2): a member's data is
``salt (16 bytes) + password verifier (2) + encrypted data + authentication code
(10)``. Keys come from PBKDF2-HMAC-SHA1 over the password and the salt, 1,000
iterations, 66 bytes: the AES-256 key, the HMAC-SHA1 key, the verifier. The data
is encrypted with AES in counter mode whose counter starts at 1 and counts
**little-endian** over all 16 bytes; the authentication code is HMAC-SHA1 of the
encrypted data, truncated to 10 bytes. The member's method field says 99; an
extra field (0x9901) holds the real method. AE-2 writes no CRC (it is 0): the
authentication code checks the data instead.

AES itself comes from pycryptodome (or pycryptodomex), an optional extra: its
counter mode counts little-endian when asked, in C with AES-NI (about 2 GB/s
here with pycryptodome 4.4). The ``cryptography`` package's counter mode counts
big-endian only: built from its ECB mode, with the counter blocks made and the
key stream applied in Python, the same member went at a fifth of that speed.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Any, Final, NamedTuple

from ._validation import utf8_bytes

AES_METHOD: Final = 99
AES_EXTRA_ID: Final = 0x9901
SALT_SIZE: Final = 16  # AES-256
_VERIFIER_SIZE: Final = 2
_MAC_SIZE: Final = 10
# What encryption adds to a member's stored (or compressed) data.
AES_OVERHEAD: Final = SALT_SIZE + _VERIFIER_SIZE + _MAC_SIZE
_KEY_SIZE: Final = 32
_ITERATIONS: Final = 1000
_AE_2: Final = 2
_STRENGTH_256: Final = 3
_EXTRA: Final = struct.Struct("<HHH2sBH")
AES_EXTRA_SIZE: Final = _EXTRA.size

EXTRA_HINT: Final = "pip install 'httpx-streaming[aes]'"


def _aes_module() -> tuple[Any, Any]:
    """``(AES, Counter)`` of pycryptodome, else of pycryptodomex (its own namespace)."""
    try:
        from Crypto.Cipher import AES as Aes
        from Crypto.Util import Counter
    except ImportError:
        from Cryptodome.Cipher import AES as Aes  # type: ignore[no-redef]
        from Cryptodome.Util import Counter  # type: ignore[no-redef]
    return Aes, Counter


def aes_extra(method: int) -> bytes:
    """The AES extra field of a member whose data was compressed with *method*."""
    return _EXTRA.pack(AES_EXTRA_ID, _EXTRA.size - 4, _AE_2, b"AE", _STRENGTH_256, method)


def check_password(password: object, what: str = "password") -> bytes:
    """A password as the bytes keys are derived from: a ``str`` in UTF-8, or bytes.

    Errors name the password's type, never its value.
    """
    encoded = utf8_bytes(password, what, secret=True)
    if not encoded:
        raise ValueError(f"{what} must not be empty: an empty password protects nothing")
    require_aes()
    return encoded


def require_aes() -> None:
    """Raise ImportError naming the extra when no AES is installed."""
    try:
        _aes_module()
    except ImportError:
        raise ImportError(
            "encrypting zip members (password=) needs pycryptodome: " + EXTRA_HINT
        ) from None


class AesKeys(NamedTuple):
    """What one encrypted member of one archive uses on every pass."""

    salt: bytes
    aes_key: bytes
    mac_key: bytes
    verifier: bytes

    def __repr__(self) -> str:
        # Tracebacks that show locals (error trackers, pytest --showlocals) print
        # this: the keys stay out of them.
        return "AesKeys(<secret>)"


class AesKeySource:
    """One encrypted member's password and salt (chosen when its archive is made), and
    its keys: derived when a pass first needs them, about a millisecond of PBKDF2, and
    kept for every later pass. An archive of 10,000 encrypted members is made at once
    and derives each member's keys at its turn, not all before the first byte."""

    __slots__ = ("_keys", "_password", "salt")

    def __init__(self, password: bytes, salt: bytes) -> None:
        if len(salt) != SALT_SIZE:
            raise ValueError(f"an AES-256 salt has {SALT_SIZE} bytes, got {len(salt)}")
        self._password = password
        self.salt = salt
        self._keys: AesKeys | None = None

    def keys(self) -> AesKeys:
        keys = self._keys
        if keys is None:  # two threads may both derive them: the same keys either way
            keys = self._keys = derive_keys(self._password, self.salt)
        return keys

    def __repr__(self) -> str:
        return "AesKeySource(<secret>)"


def derive_keys(password: bytes, salt: bytes) -> AesKeys:
    """The keys of a member encrypted with *password* under *salt* (PBKDF2, as AE-2 says);
    ``AesKeySource`` checked the salt."""
    derived = hashlib.pbkdf2_hmac("sha1", password, salt, _ITERATIONS, 2 * _KEY_SIZE + 2)
    return AesKeys(salt, derived[:_KEY_SIZE], derived[_KEY_SIZE : 2 * _KEY_SIZE], derived[-2:])


class MemberEncryptor:
    """Encrypts one member's data; made fresh for every member of every pass.

    ``start()`` gives the bytes before the data (salt and verifier),
    ``encrypt(piece)`` each piece in order, ``finish()`` the authentication code.
    """

    __slots__ = ("_cipher", "_keys", "_mac")

    def __init__(self, source: AesKeySource) -> None:
        aes, counter = _aes_module()
        keys = self._keys = source.keys()
        # AE-2's counter: 16 bytes, little-endian, from 1.
        self._cipher = aes.new(
            keys.aes_key,
            aes.MODE_CTR,
            counter=counter.new(nbits=128, initial_value=1, little_endian=True),
        )
        self._mac = hmac.new(keys.mac_key, digestmod=hashlib.sha1)

    def start(self) -> bytes:
        return self._keys.salt + self._keys.verifier

    def encrypt(self, piece: Any) -> bytes:
        encrypted: bytes = self._cipher.encrypt(piece)
        self._mac.update(encrypted)
        return encrypted

    def finish(self) -> bytes:
        return self._mac.digest()[:_MAC_SIZE]
