"""Benchmarks of the platform in the embedded lab: scripts that print figures (not timed tests).

Each script starts its own lab in a temporary folder (simulated external delays at zero unless it
says otherwise), measures one thing, prints a short table and a one-line summary, and stops the lab.

    .venv/bin/python -m bench.orchestration_overhead          # wall time kubectl create → Complete
    .venv/bin/python -m bench.reaction_latency                # external change → Experiment status
    .venv/bin/python -m bench.scale --experiments 100 300 500 # concurrent experiments
    .venv/bin/python -m bench.gateway_throughput --experiments 1000
    .venv/bin/python -m bench.metrics_parallelism             # 50 range queries, parallel vs sequential

Figures and the machine they were taken on: docs/benchmarks.md.
"""
