"""The stages of ExperimentWorkflow, one module each, in lifecycle order.

validate → provision → deploy → run → results (and the quality gate) → cleanup → publish (PR,
analysis, review); ttl ends a run at its TTL or on the Experiment's deletion. Each stage takes the
run's ``Lifecycle`` (workflows/lifecycle.py) and records how far it got in its ``progress``.
"""
