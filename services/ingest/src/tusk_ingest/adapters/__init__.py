"""Adapters: the versioning RPC client (the chunk store comes ready-made from tusk_common.store)."""
