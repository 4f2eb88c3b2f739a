"""A run fitted to minutes: the quick schedule's steps, trimmed to what this machine can do in time.

Machines of one kind differ by nearly 2x in a step's time (two 2-core AVX-512 hosts: a quick
128 px step in 0.25 s on one and 0.46 s on the other, STYLES.md "A time budget"), so a number of
steps cannot promise minutes. With --time-budget, a run times its first steps and, where the steps asked for
would not fit by the deadline, trains fewer: the same share of the full and the lite stage, the
learning rate falling over the fewer steps. It never trains more steps than asked.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

PLAN_AT = (5, 30, 60)  # steady steps timed when the stage plans (the first step compiles and is not among them)
RECENT = 25  # a plan takes the median of the steps timed last: a slow spell early on is not held against the rest
# A lite step's time over a full one's in the quick schedule (its lite stage: 96 px crops, the VGG loss,
# no teacher), by precision: 0.154 / 0.445 s (bfloat16: the full steps at 128 px) and 0.265 / 0.477 s
# (float32, both 4 x 96 px, as an AVX2 CPU computes; a full step of 3 x 112 px, the schedule's now, costs the same).
# STYLES.md, "A lite stage without a teacher" and "Bigger crops, fewer of them".
LITE_STEP_SHARE = {"mixed_bfloat16": 0.35, "float32": 0.56}
OVERHEAD = 1.05  # checkpoints and previews on top of the steps (quick schedule; quality checked at the end)
RESERVE_SECONDS = 4.0  # what follows the last step: the export and the process's end
STAGE_SECONDS = 5.0  # between the stages: the full network's export, the lite one's build and first step
LEAST_SHARE = 0.25  # a machine too slow even for this share trains it anyway, over time: not a useless network


def process_started() -> float:
    """When this process started, on time.monotonic()'s clock (Linux), so a budget counts start-up;
    elsewhere, now."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: start, clock ticks after boot
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - max(age, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()


@dataclass
class Plan:
    """Steps that fit the deadline: this stage's (counted from 0) and those of the lite stage after it."""

    steps: int
    later_steps: int
    step_seconds: float

    def line(self, steps: int, later_steps: int, minutes: float) -> str:
        later = f" and {self.later_steps} of {later_steps} lite steps" if later_steps else ""
        return (f"a step takes {self.step_seconds:.2f} s on this machine: {self.steps} of {steps} steps{later} "
                f"fit the {minutes:g}-minute --time-budget")


def fit(done: int, steps: int, later_steps: int, step_seconds: float, seconds_left: float,
        later_share: float) -> Plan:
    """The steps that fit in `seconds_left` (to the deadline, the reserve already taken off), after
    `done` of `steps`, with `later_steps` of a stage whose steps cost `later_share` of these.

    Both stages get one share of the steps asked for, so the split between them is the same
    whichever step plans (a share of the steps left would give the full stage more of the time
    the later it plans). Never below LEAST_SHARE of either; the lite stage gets what the time
    pays for once this stage's steps are counted."""
    fixed = STAGE_SECONDS if later_steps else 0.0
    paid = (seconds_left - fixed) / (OVERHEAD * step_seconds)  # steps of this stage the time pays for
    if paid >= (steps - done) + later_share * later_steps:
        return Plan(steps, later_steps, step_seconds)
    share = max((paid + done) / (steps + later_share * later_steps), LEAST_SHARE)
    # (+1e-9: a product that should be whole, e.g. 105.99999999, still counts as 106 steps)
    planned = min(steps, max(done + 1, int(steps * share + 1e-9)))
    if not later_steps:
        return Plan(planned, 0, step_seconds)
    later = int((paid - (planned - done)) / later_share + 1e-9)
    return Plan(planned, min(later_steps, max(later, int(later_steps * LEAST_SHARE), 1)), step_seconds)


class Budget:
    """A stage's side of the deadline: times its steps and plans what fits, soon and then again on
    later steps (a 2-core host's first 30 steps once ran 10 % slower than the rest: that run
    ended 10 s before its deadline), each plan up to what the stage was asked for at its start."""

    def __init__(self, deadline: float, steps: int, later_steps: int, precision: str = "float32",
                 clock=time.monotonic):
        self.deadline, self.steps, self.later_steps, self.clock = deadline, steps, later_steps, clock
        self.later_share = LITE_STEP_SHARE[precision]
        self.times: list[float] = []

    def observe(self, seconds: float, done: int, ready: bool = True) -> Plan | None:
        """Takes the step just run (`done` now); returns a plan when PLAN_AT steady steps are timed.

        `ready`: whether the step is a steady one (not the first, which compiles, nor a trial of
        --compile auto's)."""
        if not ready or len(self.times) >= PLAN_AT[-1]:
            return None
        self.times.append(seconds)
        if len(self.times) not in PLAN_AT:
            return None
        left = self.deadline - self.clock() - RESERVE_SECONDS
        return fit(done, self.steps, self.later_steps, statistics.median(self.times[-RECENT:]), left,
                   self.later_share)
