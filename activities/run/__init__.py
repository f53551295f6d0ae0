"""Running the experiment: the Argo Workflow (submit, wait, resume)."""
