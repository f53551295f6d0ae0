#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the pinned upstream Go modules in
# this folder into the envtest cache, the folder labctl/controlplane.py looks in when
# KUBEBUILDER_ASSETS is unset. Nothing is downloaded but Go modules; an existing build is reused.
# Usage: bash tools/envtest/build.sh [DEST]   (prints the folder on the last line)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version() { awk -v m="$1" '{for (i = 1; i < NF; i++) if ($i == m) {print substr($(i + 1), 2); exit}}' "$2"; }
k8s=$(version k8s.io/kubernetes "$here/kubernetes/go.mod")
etcd=$(version go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
dest=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-ai-cloud-testbed/envtest/k8s-$k8s-etcd-$etcd}
mkdir -p "$dest"
if [[ -x $dest/kube-apiserver && -x $dest/kube-controller-manager && -x $dest/etcd ]]; then
  echo "envtest assets present (Kubernetes $k8s, etcd $etcd)" >&2
  echo "$dest"
  exit 0
fi
command -v go >/dev/null || { echo "go not found: install Go 1.26 (https://go.dev/dl) or set KUBEBUILDER_ASSETS" >&2; exit 1; }
start=$SECONDS
echo "building Kubernetes $k8s and etcd $etcd into $dest (first time only, several minutes)" >&2
(cd "$here/kubernetes" && go build -trimpath -o "$dest/" ./kube-apiserver ./kube-controller-manager)
(cd "$here/etcd" && go build -trimpath -o "$dest/etcd" .)
echo "built in $((SECONDS - start)) s" >&2
echo "$dest"
