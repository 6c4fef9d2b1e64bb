"""NATS RPC handlers and the durable event consumer."""
