"""labsim — a SIMULATOR of Crossplane, ArgoCD and Argo Workflows for tests, benchmarks and the embedded lab.

It is not part of any production path and must never run next to the real controllers: it fakes cloud
clusters (every "remote" cluster is the same kube-apiserver), fakes deployments (one ConfigMap per
Application source) and fakes workflow runs (a timer). What it keeps real is the contract the
activities rely on: object kinds and names, status fields and conditions, finalizers, connection
Secrets shaped like each provider's (with the fake cloud identity services of :mod:`labsim.identity`
that the API server trusts), delays drawn around realistic medians, and metrics series labelled
``experiment=<name>`` written to VictoriaMetrics where the agents' rendered Alloy configuration says.

Start it with ``python -m labsim --kubeconfig K`` or in-process with :class:`labsim.Simulator`.
Faults are injected per experiment with the annotation ``labsim.illm.io/fault`` (see :mod:`labsim.config`).
"""

from labsim.config import CRD_DIR, FAULT_ANNOTATION, Fault, SimulatorConfig
from labsim.simulator import Simulator

__all__ = ["CRD_DIR", "FAULT_ANNOTATION", "Fault", "Simulator", "SimulatorConfig"]
