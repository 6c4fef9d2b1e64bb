"""Adapters of the scheduler: Postgres rows, the versioning RPC client, JetStream tasks, the secret box."""
