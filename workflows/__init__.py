"""Deterministic lifecycle code only: no I/O, no clocks, no randomness outside the Temporal SDK.

``experiment`` is the lifecycle; the other modules are pure helpers it calls (status bookkeeping,
Argo parameters, quality gate, hypothesis verdict, retry/timeout policies).
"""
