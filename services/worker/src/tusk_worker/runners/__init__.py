"""Where a transform runs.

    base     the Runner/Slot ports, the Outcome of a run, output line splitting
    local    plain processes; /pfs paths are rewritten to the slot's scratch directory
    sandbox  a bubblewrap sandbox per slot with /pfs bound in, spawning through a zygote
    zygote   the stdlib-only spawner that lives inside each sandbox
"""

from tusk_worker.runners.base import SLOTS_PER_UNIT, Outcome, Runner, Slot, open_runner

__all__ = ["SLOTS_PER_UNIT", "Outcome", "Runner", "Slot", "open_runner"]
