"""Activities: every side effect of an experiment, one subpackage per integration.

- ``clusters/``: Crossplane claims (provisioning), cloud access tokens, target plumbing, tutorial discovery.
- ``deploy/``: ArgoCD Applications, Component sources, injected observability.
- ``run/``: Argo Workflows (submit, wait, resume).
- ``results/``: PromQL client and Prometheus discovery, metrics collection, summary.json, HTML report,
  cost, S3 store, and ``judgement`` (hypothesis verdict and quality gate, pure, also used by the workflow).
- ``publish/``: the results pull request on GitHub, the Claude analysis.
- here: validation, cleanup, heartbeating, the Kubernetes client (``kube``), settings, the registry.

Each subpackage's ``contracts`` (names, typed inputs/outputs) plus ``contracts`` and ``errors`` here are
what the workflow imports; the integration modules implement them.
"""
