"""Tusk's worker service: pulls datum tasks from `TUSK_DATUMS`, runs the transform, stores its outputs.

    settings     WorkerSettings (TUSK_WORKER_*)
    app          the composition root
    puller       one pull loop per pipeline consumer, bounded by the worker's concurrency
    executor     one datum: inputs in, attempts, err_cmd, outputs out, datum.done / datum.failed
    workspace    a datum's scratch directory: materialize inputs, collect outputs
    environment  the variables a transform sees
    logship      transform output lines to the scheduler, batched, secret values redacted
    jobs         job.finished watcher: tasks of finished jobs are dropped, running ones stopped
    runners      where the transform runs: a bubblewrap sandbox (via a zygote) or a local process
"""
