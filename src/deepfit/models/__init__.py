"""Architectures, built by name through one registry (``deepfit.models.registry``)."""
