# The front door: `make test` passes on a fresh machine; `make lab` runs the main job.
.PHONY: setup test lint crds format

setup:
	@bash scripts/setup.sh

test: setup
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

crds: setup
	.venv/bin/python -m api.crd

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
