"""Optional AES-GCM payload codec: with a key set, histories are unreadable without it.

The key comes from ``EXPERIMENT_PAYLOAD_KEY`` (base64 of 16, 24 or 32 bytes). Workers, the gateway
and labctl must all use the same converter; the Temporal UI then needs a codec server to show data.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

KEY_ENV = "EXPERIMENT_PAYLOAD_KEY"
ENCODING = b"binary/encrypted-aes-gcm"
NONCE_BYTES = 12


class AesGcmCodec(PayloadCodec):
    def __init__(self, key: bytes, key_id: str = "default") -> None:
        self._aead = AESGCM(key)
        self._key_id = key_id.encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = nonce + self._aead.encrypt(nonce, payload.SerializeToString(), None)
            out.append(Payload(metadata={"encoding": ENCODING, "encryption-key-id": self._key_id}, data=sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)
                continue
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            inner = Payload()
            inner.ParseFromString(self._aead.decrypt(nonce, sealed, None))
            out.append(inner)
        return out


def data_converter(key: str | None = None) -> DataConverter:
    """The pydantic converter, encrypting payloads when a key is given or set in the environment."""
    key = key if key is not None else os.environ.get(KEY_ENV, "")
    if not key:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=AesGcmCodec(base64.b64decode(key)))
