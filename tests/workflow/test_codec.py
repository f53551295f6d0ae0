"""Encrypted payloads: unreadable without the key, readable with it, and key rotation keeps every
history readable and replayable (decrypt by the key id a payload carries, encrypt with the newest)."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer

from api.experiment import ExperimentPhase
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from worker.codec import ENCODING, KEY_ID, AesGcmCodec, PayloadKeyError, PayloadKeySettings, data_converter
from workflows.experiment import ExperimentWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET_NAME = "codec-roundtrip-7f3a"


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def encrypted_client(env, keys: PayloadKeySettings) -> Client:
    return Client(**{**env.client.config(), "data_converter": data_converter(keys)})


async def test_payloads_are_encrypted_in_history_and_decode_with_the_key(env) -> None:
    key = os.urandom(32)
    keys = PayloadKeySettings(experiment_payload_keys=f"k1:{base64.b64encode(key).decode()}")
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0), name=SECRET_NAME, client=encrypted_client(env, keys)) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE and status.phase == ExperimentPhase.COMPLETE
    assert lab.statuses[-1].experiment.name == SECRET_NAME  # activities got the clear values

    plain = env.client.get_workflow_handle(run.handle.id)  # no codec: what the server stores
    history = await plain.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    payloads = list(started.input.payloads)
    assert payloads and all(p.metadata["encoding"] == ENCODING and p.metadata[KEY_ID] == b"k1" for p in payloads)
    assert all(SECRET_NAME.encode() not in p.data for p in payloads)
    scheduled = [
        p
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        for p in e.activity_task_scheduled_event_attributes.input.payloads
    ]
    assert scheduled and all(
        p.metadata["encoding"] == ENCODING and SECRET_NAME.encode() not in p.data for p in scheduled
    )
    # (search attributes such as ExperimentName stay clear by design: the server indexes them)

    decoded = await AesGcmCodec({"k1": key}).decode(payloads)
    assert decoded[0].metadata["encoding"] == b"json/plain" and SECRET_NAME.encode() in decoded[0].data
    with pytest.raises(Exception):  # noqa: B017 - any wrong key fails authentication
        await AesGcmCodec({"k1": os.urandom(32)}).decode(payloads)


async def test_history_written_with_the_old_key_replays_after_the_newest_key_changed(env) -> None:
    old = b64key()
    # Written by the first codec's configuration: one EXPERIMENT_PAYLOAD_KEY, key id "default".
    before = PayloadKeySettings(experiment_payload_key=old)
    async with running(env, FakeLab(), spec(ttl_days=0), name="rotate-a1", client=encrypted_client(env, before)) as run:
        assert (await run.result()).phase == ExperimentPhase.COMPLETE
    history = await encrypted_client(env, before).get_workflow_handle(run.handle.id).fetch_history()
    assert history.events[0].workflow_execution_started_event_attributes.input.payloads[0].metadata[KEY_ID] == (
        b"default"
    )

    rotated = PayloadKeySettings(experiment_payload_keys=f"2026-12:{b64key()}", experiment_payload_key=old)
    replayer = Replayer(workflows=[ExperimentWorkflow], data_converter=data_converter(rotated))
    assert (await replayer.replay_workflow(history)).replay_failure is None

    new_only = PayloadKeySettings(experiment_payload_keys=f"2026-12:{b64key()}")
    replay = await Replayer(workflows=[ExperimentWorkflow], data_converter=data_converter(new_only)).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert replay.replay_failure is not None  # the old key is what made it replay

    after = encrypted_client(env, rotated)  # new runs encrypt with the newest key only
    async with running(env, FakeLab(), spec(ttl_days=0), name="rotate-a2", client=after) as run:
        assert (await run.result()).phase == ExperimentPhase.COMPLETE
    fresh = await after.get_workflow_handle(run.handle.id).fetch_history()
    assert fresh.events[0].workflow_execution_started_event_attributes.input.payloads[0].metadata[KEY_ID] == (
        b"2026-12"
    )


async def test_required_encryption_without_a_key_is_refused_with_the_fix() -> None:
    with pytest.raises(PayloadKeyError, match=r"EXPERIMENT_PAYLOAD_KEYS.*Secret"):
        data_converter(PayloadKeySettings(experiment_payload_encryption_required=True))
    with pytest.raises(PayloadKeyError, match="16, 24 or 32 bytes"):
        data_converter(PayloadKeySettings(experiment_payload_keys="k1:c2hvcnQ="))
    with pytest.raises(PayloadKeyError, match="id:base64-key"):
        data_converter(PayloadKeySettings(experiment_payload_keys=b64key()))
