"""AES-GCM payload codec with key ids: histories are unreadable without the keys.

Several keys may be configured; new payloads are encrypted with the newest (the first of
``EXPERIMENT_PAYLOAD_KEYS``) and every payload is decrypted with the key whose id it carries in its
``encryption-key-id`` metadata, so rotating the key never breaks a running or replayed history.
``EXPERIMENT_PAYLOAD_KEY`` (one key, id ``default``) is what the first codec wrote and still reads.
Workers, the gateway, the codec server and labctl must all build their converter here.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

KEY_ENV = "EXPERIMENT_PAYLOAD_KEY"
KEYS_ENV = "EXPERIMENT_PAYLOAD_KEYS"
ENCODING = b"binary/encrypted-aes-gcm"
KEY_ID = "encryption-key-id"
LEGACY_KEY_ID = "default"
NONCE_BYTES = 12


class PayloadKeyError(Exception):
    """The key configuration is unusable; the message names the variable and the fix."""


class UnknownPayloadKey(PayloadKeyError):
    """A payload was encrypted with a key id this process does not have."""


class AesGcmCodec(PayloadCodec):
    """Encrypts with the first key of ``keys`` (the newest), decrypts with the key named in the payload."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise PayloadKeyError("AesGcmCodec needs at least one key")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.encode_key_id = next(iter(keys))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encode_sync(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decode_sync(payloads)

    def encode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        aead = self._keys[self.encode_key_id]
        out = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = nonce + aead.encrypt(nonce, payload.SerializeToString(), None)
            metadata = {"encoding": ENCODING, KEY_ID: self.encode_key_id.encode()}
            out.append(Payload(metadata=metadata, data=sealed))
        return out

    def decode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID, LEGACY_KEY_ID.encode()).decode()
            aead = self._keys.get(key_id)
            if aead is None:
                raise UnknownPayloadKey(
                    f"payload encrypted with key id {key_id!r}, this process has {sorted(self._keys)}: "
                    f"keep retired keys in {KEYS_ENV} until no history needs them"
                )
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            inner = Payload()
            inner.ParseFromString(aead.decrypt(nonce, sealed, None))
            out.append(inner)
        return out


class PayloadKeySettings(BaseSettings):
    """Which keys encrypt the payloads, and whether running without one is an error."""

    model_config = SettingsConfigDict(extra="ignore")

    experiment_payload_keys: str = Field(
        "", description="Comma-separated id:base64-key pairs, newest first; new payloads use the newest."
    )
    experiment_payload_key: str = Field(
        "", description="One base64 key with id 'default' (the first codec's format; still decrypts its payloads)."
    )
    experiment_payload_encryption_required: bool = Field(
        False, description="Refuse to start without a key (a pod started before its Secret must crash)."
    )

    def keys(self) -> dict[str, bytes]:
        """Keys by id, newest first; raises PayloadKeyError with the fix when a value is malformed."""
        keys: dict[str, bytes] = {}
        for entry in filter(None, (part.strip() for part in self.experiment_payload_keys.split(","))):
            key_id, sep, value = entry.partition(":")
            if not sep or not key_id.strip():
                raise PayloadKeyError(f"{KEYS_ENV}: {entry[:8]}… is not id:base64-key (e.g. 2026-12:<32 bytes b64>)")
            keys[key_id.strip()] = _decode_key(f"{KEYS_ENV}[{key_id.strip()}]", value)
        if self.experiment_payload_key:
            keys.setdefault(LEGACY_KEY_ID, _decode_key(KEY_ENV, self.experiment_payload_key))
        if not keys and self.experiment_payload_encryption_required:
            raise PayloadKeyError(
                f"payload encryption is required (EXPERIMENT_PAYLOAD_ENCRYPTION_REQUIRED) but neither {KEYS_ENV} "
                f"nor {KEY_ENV} is set: mount the payload-key Secret, do not run unencrypted"
            )
        return keys

    def codec(self) -> AesGcmCodec | None:
        keys = self.keys()
        return AesGcmCodec(keys) if keys else None


def _decode_key(where: str, value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except binascii.Error as err:
        raise PayloadKeyError(f"{where}: not base64 ({err})") from err
    if len(key) not in (16, 24, 32):
        raise PayloadKeyError(f"{where}: an AES key is 16, 24 or 32 bytes, this one is {len(key)}")
    return key


def data_converter(keys: PayloadKeySettings) -> DataConverter:
    """The pydantic converter, encrypting payloads when ``keys`` (the process's settings) has any."""
    codec = keys.codec()
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
