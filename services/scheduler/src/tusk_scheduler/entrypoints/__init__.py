"""Entrypoints of the scheduler: NATS RPC handlers and JetStream event consumers."""
