"""The results store: an S3-compatible bucket (SeaweedFS on the hub) holding everything an experiment produced.

Blocking boto3 calls; activities run them with ``asyncio.to_thread`` so the worker's event loop (and
heartbeats) keep going. Every write is retried with back-off; a store that stays down raises
:class:`ResultsStoreUnavailable` (retried by Temporal until the results deadline) naming the endpoint and
the object; a refusal (access denied) is :class:`ResultsStorageFailed` at once. Either way the experiment fails with a
clear condition instead of losing its results silently. The bucket is created when missing (the
original relied on a platform Job having done it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from activities.errors import ResultsStorageFailed, ResultsStoreUnavailable
from activities.settings import ResultsSettings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)
JSON = "application/json"
HTML = "text/html; charset=utf-8"
T = TypeVar("T")


class ObjectMissing(Exception):
    """The key does not exist (a definite answer, unlike the store being unreachable)."""


@dataclass
class ResultsStore:
    settings: ResultsSettings
    client: S3Client

    @classmethod
    def from_settings(cls, settings: ResultsSettings) -> ResultsStore:
        config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2, "mode": "standard"},  # our own loop does the patient retrying
            connect_timeout=5,
            read_timeout=30,
        )
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_url,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
            region_name=settings.s3_region,
            config=config,
        )
        return cls(settings, client)

    @property
    def bucket(self) -> str:
        return self.settings.s3_bucket

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put_json(self, key: str, document: Any) -> None:
        self.put(key, json.dumps(document, indent=2, ensure_ascii=False).encode(), JSON)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        def write() -> None:
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            except ClientError as err:
                if _code(err) != "NoSuchBucket":
                    raise
                self.ensure_bucket()
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

        self._retrying(f"write {key}", write)

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def get(self, key: str) -> bytes:
        def read() -> bytes:
            try:
                body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                return body
            except ClientError as err:
                if _code(err) in ("NoSuchKey", "NoSuchBucket", "404"):
                    raise ObjectMissing(self.url(key)) from err
                raise

        return self._retrying(f"read {key}", read)

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            if _code(err) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as create_err:
                if _code(create_err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        attempts = self.settings.s3_write_attempts
        delay = self.settings.s3_retry_initial_seconds
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except ObjectMissing:
                raise
            except (BotoCoreError, ClientError) as err:
                if isinstance(err, ClientError) and _code(err) in ("AccessDenied", "InvalidAccessKeyId"):
                    raise ResultsStorageFailed(f"S3 {self.settings.s3_url} refused to {what}: {err}") from err
                if attempt == attempts:  # Temporal retries this one until the results deadline
                    raise ResultsStoreUnavailable(
                        f"results store S3 {self.settings.s3_url} (bucket {self.bucket}) unavailable: could not "
                        f"{what} after {attempts} attempts: {err}"
                    ) from err
                log.warning("S3 %s failed (attempt %d/%d): %s", what, attempt, attempts, err)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
