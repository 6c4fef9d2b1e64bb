"""Postgres store, RPC clients of versioning and the scheduler, the OpenLineage relay."""
