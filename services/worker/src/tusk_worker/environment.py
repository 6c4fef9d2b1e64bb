"""The environment a transform runs with: a minimal base (never the worker's own variables, which hold
credentials), the spec's `env`, Tusk's and Pachyderm's job variables, input paths, and secrets."""

from __future__ import annotations

import os
import re

from tusk_common.wire.pipelines import DatumTask
from tusk_worker.runners import Slot

_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")


def env_name(name: str) -> str:
    return _NOT_ENV.sub("_", name).upper()


def transform_env(task: DatumTask, slot: Slot, secret_env: dict[str, str],
                  secret_dirs: dict[str, str]) -> dict[str, str]:  # fmt: skip
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": "/tmp" if slot.pfs == "/pfs" else str(slot.root / "tmp"),
        "TMPDIR": "/tmp" if slot.pfs == "/pfs" else str(slot.root / "tmp"),
    }
    env.update({k: slot.rewrite(v) for k, v in task.transform.env.items()})
    out = f"{slot.pfs}/out"
    env.update({
        "TUSK_PIPELINE": task.pipeline, "TUSK_JOB_ID": task.job, "TUSK_DATUM_ID": task.datum_id,
        "TUSK_COMMIT_SET": task.commit_set, "TUSK_OUTPUT_COMMIT": task.output_commit or "",
        "TUSK_PFS": slot.pfs, "TUSK_PFS_OUT": out,
        "PACH_JOB_ID": task.job, "PACH_DATUM_ID": task.datum_id, "PPS_PIPELINE_NAME": task.pipeline,
        "PACH_OUTPUT_COMMIT_ID": task.output_commit or "",
    })  # fmt: skip
    for inp in task.inputs:
        base = f"{slot.pfs}/{inp.name}"
        env[f"TUSK_PFS_{env_name(inp.name)}"] = base
        # Pachyderm's: the input's name holds the path of the datum's match; <name>_COMMIT its commit.
        env[inp.name] = base if inp.path == "/" else base + inp.path
        env[f"{inp.name}_COMMIT"] = inp.commit or ""
        if inp.join_on is not None:
            env[f"PACH_DATUM_{inp.name}_JOIN_ON"] = inp.join_on
        if inp.group_by is not None:
            env[f"PACH_DATUM_{inp.name}_GROUP_BY"] = inp.group_by
    for name, path in secret_dirs.items():
        env[f"TUSK_SECRET_{env_name(name)}_DIR"] = path
    env.update(secret_env)
    return env
