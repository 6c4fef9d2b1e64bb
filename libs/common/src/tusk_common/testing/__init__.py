"""Test fixtures for every Tusk package: real nats-server and Postgres from wheels on free ports."""
