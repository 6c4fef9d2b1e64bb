"""Tusk's scheduler service: pipelines, jobs and datums.

`tusk_scheduler.domain` holds the pure rules (spec, DAG, globs, datums, incremental plans, states);
the service layer, adapters and entrypoints build on it.
"""
