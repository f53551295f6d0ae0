"""``python -m tests.worker.slow_worker``: the real worker entry point (``worker.__main__.serve``) with
the fake lab's activities, except validation, which records each attempt in ``$SLOW_ACTIVITY_DIR/attempts``
and finishes only once ``$SLOW_ACTIVITY_DIR/release`` exists — an activity a test can SIGTERM mid-flight."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from temporalio import activity

from activities.contracts import VALIDATE_EXPERIMENT, ValidateInput, ValidationResult
from runtime.logs import configure
from tests.workflow.fakes import FakeLab
from worker.__main__ import LOGGERS, serve
from worker.settings import WorkerSettings

DIR = Path(os.environ.get("SLOW_ACTIVITY_DIR", "."))


def record(line: str) -> None:
    with (DIR / "attempts").open("a") as attempts:
        attempts.write(line + "\n")


@activity.defn(name=VALIDATE_EXPERIMENT)
async def slow_validate(inp: ValidateInput) -> ValidationResult:
    record(f"started attempt {activity.info().attempt}")
    deadline = time.monotonic() + 300
    while not (DIR / "release").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    record("finished")
    return ValidationResult(problems=[])


def main() -> None:
    settings = WorkerSettings()
    configure(settings.log_level, LOGGERS)
    fakes = [fn for fn in FakeLab().activities() if fn.__name__ != "validate"]
    asyncio.run(serve(settings, [slow_validate, *fakes]))


if __name__ == "__main__":
    main()
