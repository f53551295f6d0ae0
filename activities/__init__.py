"""Activities: every side effect of an experiment (Crossplane, ArgoCD, Argo, metrics, S3, GitHub, Claude).

``contracts`` is the only module the workflow imports from here: names, task queues, typed
inputs/outputs and the permanent error types. Integration modules implement those contracts.
"""
