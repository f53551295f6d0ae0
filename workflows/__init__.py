"""Deterministic lifecycle code only: no I/O, no clocks, no randomness outside the Temporal SDK.

``experiment`` is the workflow: its run method calls the stages of ``stages/`` in lifecycle order
over one ``lifecycle.Lifecycle`` (spec, status book, ``progress.LifecycleProgress``); stages call
activities through ``activity_calls`` and report status through ``status_pump``. The other modules
are pure helpers (status bookkeeping, Argo parameters, quality gate, hypothesis verdict,
retry/timeout policies, patch ids). docs/architecture.md maps each stage to its activities.
"""
