"""How many CPU threads a training run uses: the cores no other program is using now.

torch's CPU kernels run each operation on all cores in lock step (OpenMP): every
small matrix product of an LSTM step ends at a barrier that waits for its slowest
thread. When another program holds a core, one of torch's threads is descheduled at
every barrier while the others wait for it (spinning, then sleeping), so training
beside a busy process slows tenfold or more and burns CPU time doing nothing
(measured: ``benchmarks/training_load.py``). A thread per *free* core keeps the lock
step on cores torch actually gets.

``free_cores`` measures, over a short window, the CPU time every process but this one
used, from Linux's ``/proc/stat`` and ``/proc/self/stat`` (elsewhere it reports every
core as free). ``training_threads`` caps that by torch's own thread count, which the
user sets with ``OMP_NUM_THREADS`` or ``torch.set_num_threads``; ``MLBT_TRAIN_THREADS``
fixes it instead (an integer; ``0`` or unset: measure).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

WINDOW = 0.05  # seconds of measurement: a few scheduler ticks, negligible beside a training fold
BUSY = 0.5     # a core counts as taken when other processes used more than half of it over the window
REUSE = 2.0    # seconds a measurement stands for the trainings that start after it (many small fits)


def _system_busy() -> float:
    """CPU seconds every process has spent (not idle, not waiting for I/O), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_busy() -> float:
    """CPU seconds of this process, all its threads."""
    t = os.times()
    return t.user + t.system


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores(window: float = WINDOW) -> int:
    """Cores that other processes left idle over the last ``window`` seconds (at least 1)."""
    n = cores()
    try:
        system, own = _system_busy(), _own_busy()
        time.sleep(window)
        others = (_system_busy() - system) - (_own_busy() - own)
    except (OSError, ValueError, IndexError):  # no /proc (not Linux): assume a quiet machine
        return n
    taken = int(others / window + (1.0 - BUSY))  # round at BUSY
    return max(1, min(n, n - taken))


_measured: list[float] = [-1e9, 0.0]  # (when, free cores) of the last measurement


def training_threads() -> int:
    """Threads for the next training run: ``MLBT_TRAIN_THREADS`` when set, else the free
    cores (measured at most every ``REUSE`` seconds), at most torch's thread count."""
    fixed = os.environ.get("MLBT_TRAIN_THREADS", "").strip()
    if fixed and fixed != "0":
        if not fixed.isdigit():
            raise ValueError(f"MLBT_TRAIN_THREADS={fixed!r}: give a whole number of threads (0: measure)")
        return int(fixed)
    cap = torch.get_num_threads()
    if cap <= 1:
        return 1
    now = time.monotonic()
    if now - _measured[0] > REUSE:
        _measured[:] = [now, float(free_cores())]
    return max(1, min(cap, int(_measured[1])))


@contextmanager
def threads_for_training(device: torch.device) -> Iterator[int]:
    """Run the block with ``training_threads()`` CPU threads (CPU training only; the
    thread count torch had is restored after)."""
    before = torch.get_num_threads()
    if device.type != "cpu":
        yield before
        return
    n = training_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
