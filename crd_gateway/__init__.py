"""The CRD gateway: the only bridge between Experiment objects and their Temporal workflows.

observe.py → planner.py (pure) → executor.py, fed by watch.py; status_writer.py serves the
workflow's status reports; leader.py keeps one active replica. See README for settings.
"""
