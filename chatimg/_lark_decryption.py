"""Undoing Lark's event encryption. An app with an Encrypt Key gets every event as
``{"encrypt": base64(iv + AES-256-CBC(json))}``: the AES key is sha256(Encrypt Key), the iv its
first 16 bytes, the padding PKCS7, the same format lark-oapi's ``AESCipher`` decrypts.

``cryptography`` is imported on the first decryption, so ``import chatimg`` does not load it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from ._errors import ProtocolError

AES_BLOCK_BYTES = 16
NOT_DECRYPTED = ("the Lark event did not decrypt with this encrypt_key: a wrong key (it must be "
                 "the app's Encrypt Key) or a broken ciphertext")


def decrypt_lark_body(encrypted: str, encrypt_key: str) -> bytes:
    """The plaintext of an event's ``encrypt`` value. ProtocolError if it is not base64, not an
    iv and whole AES blocks, or its padding is wrong after decrypting (a wrong key, mostly)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        sealed = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: a character that is not ASCII
        raise ProtocolError(f"the Lark event's encrypt is not base64: {exc}") from None
    if len(sealed) < 2 * AES_BLOCK_BYTES or len(sealed) % AES_BLOCK_BYTES:
        raise ProtocolError(f"the Lark event's encrypt holds {len(sealed)} bytes, not an iv "
                            f"and whole {AES_BLOCK_BYTES}-byte AES blocks")
    iv, ciphertext = sealed[:AES_BLOCK_BYTES], sealed[AES_BLOCK_BYTES:]
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(AES_BLOCK_BYTES * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise ProtocolError(NOT_DECRYPTED) from None
