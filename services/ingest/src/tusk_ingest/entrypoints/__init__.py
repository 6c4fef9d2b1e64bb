"""Entrypoints: the transports of the edge (HTTP today; the S3 gateway and console come later)."""
