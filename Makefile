# The front door: `make test` passes on a fresh machine; `make lab` runs the main job.
export PATH := $(HOME)/.cache/k8s-ai-cloud-testbed/bin:$(PATH)
.PHONY: setup test lint crds format lab soak

setup:
	@bash scripts/setup.sh

test: setup
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

crds: setup
	.venv/bin/python -m api.crd

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# The main job: bring up the embedded lab, run hello-app to Complete, show timeline, results,
# report and the Temporal UI link; the lab stops afterwards unless LAB_KEEP=1.
lab: setup
	.venv/bin/labctl lab demo $(if $(LAB_KEEP),--keep,)

# The soak (docs/resilience.md): SOAK_EXPERIMENTS (200) publishing hello-apps while the worker is
# killed every 30 s, the gateway every 45 s, Temporal and the API server restarted once; prints figures.
soak: setup
	.venv/bin/pytest tests/resilience/test_soak.py -m soak -s
