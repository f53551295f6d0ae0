"""Deploying Components: ArgoCD Applications, their sources, the injected observability."""
