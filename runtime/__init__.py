"""What every long-running process of the lab shares (worker, CRD gateway, codec server, labctl).

``kube``: the one Kubernetes client factory and its fallback order; ``health``: /healthz, /readyz and
/metrics; ``logs``: one JSON log format. Nothing here imports a product package.
"""
