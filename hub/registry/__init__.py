"""Model registry: versions from federated runs, lifecycle, artifacts for edge inference."""
