"""With EXPERIMENT_PAYLOAD_KEY set, histories are unreadable without the key and readable with it."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.client import Client

from api.experiment import ExperimentPhase
from tests.workflow.conftest import running, spec
from tests.workflow.fakes import FakeLab
from worker.codec import ENCODING, AesGcmCodec, data_converter

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET_NAME = "codec-roundtrip-7f3a"


async def test_payloads_are_encrypted_in_history_and_decode_with_the_key(env) -> None:
    key = os.urandom(32)
    encrypted = Client(**{**env.client.config(), "data_converter": data_converter(base64.b64encode(key).decode())})
    lab = FakeLab()
    async with running(env, lab, spec(ttl_days=0), name=SECRET_NAME, client=encrypted) as run:
        outcome = await run.result()
        status = await run.status()
    assert outcome.phase == ExperimentPhase.COMPLETE and status.phase == ExperimentPhase.COMPLETE
    assert lab.statuses[-1].experiment.name == SECRET_NAME  # activities got the clear values

    plain = env.client.get_workflow_handle(run.handle.id)  # no codec: what the server stores
    history = await plain.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    payloads = list(started.input.payloads)
    assert payloads and all(p.metadata["encoding"] == ENCODING for p in payloads)
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

    decoded = await AesGcmCodec(key).decode(payloads)
    assert decoded[0].metadata["encoding"] == b"json/plain" and SECRET_NAME.encode() in decoded[0].data
    with pytest.raises(Exception):  # noqa: B017 - any wrong key fails authentication
        await AesGcmCodec(os.urandom(32)).decode(payloads)
