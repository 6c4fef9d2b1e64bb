"""The embedded stack behind `tusk up`: NATS, Postgres and every service as supervised processes.

NATS and Postgres come from their wheels, the `fs` object store is a directory, and every Tusk service
runs as its own OS process; all of it under one data directory.

    services.py     the table of services (one line each) and `tusk serve`'s loader
    config.py       the data dir layout, the public address and the env overrides (external servers)
    components.py   the processes: nats-server, Postgres, a service; start, probe, stop
    supervisor.py   starts them in order, restarts crashed ones with backoff, stops them in reverse
    state.py        `stack.json`, the data-dir lock and pid checks
    status.py       what `tusk status` reports
    runner.py       `tusk up` (foreground or detached) and `tusk down`

Imported lazily by the CLI: the SDK never pulls this in.
"""
