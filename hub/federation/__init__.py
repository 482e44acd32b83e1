"""Federated learning runs: Flower ServerApp, strategies and engines."""
