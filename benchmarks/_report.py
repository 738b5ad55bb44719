"""The machine-readable results every ``benchmarks/bench_*.py`` writes with ``--json PATH``.

One file per run; ``benchmarks/charts.py`` draws one chart per row from it.
The shape (``format`` 1)::

    {
      "format": 1,
      "script": "bench_files.py",
      "created": "2026-11-25T19:10:00+00:00",      # UTC, ISO 8601
      "machine": "Intel Xeon ..., 2 CPUs, Linux ..., Python 3.11.7",
      "options": {"backend": "asyncio", "repeat": 5, ...},   # the run's command-line options
      "rows": [
        {
          "id": "F1",                  # short stable slug; unique per (id, backend) in a run
          "title": "...",              # what the row measures, for people
          "backend": "asyncio",        # event loop ours ran on; null when none was involved
          "statistic": "median",       # how "seconds" sums up the rounds: "median" or "best"
          "ours": CONTESTANT,
          "peers": [CONTESTANT + {"ratio": 1.08, "spread": SPREAD}, ...],
          "ratio": 1.08,               # the first peer's: peer's time / our time (>= 1: ours
          "spread": SPREAD,            #   is as fast or faster), and its spread over rounds
          "target": 1.0,               # the ratio aimed at, or null
          "met": true,                 # ratio >= target, or null without a target
          "notes": ["archive 1.004x Info-ZIP's (target <= 1.02x)"]
        }
      ],
      "notes": ["..."]                 # what applies to the whole run
    }

    CONTESTANT = {"name": "httpx-streaming zip", "seconds": 0.81, "bytes": 102273533,
                  "mb_per_s": 126.3, "times": [0.80, 0.83, 0.81]}
    SPREAD = {"min": 0.97, "max": 1.12, "rounds": 3}   # per-round ratios, or null

``mb_per_s`` is payload bytes per second in MB (10^6 bytes). ``seconds``,
``bytes``, ``times`` and ``spread`` are null where a script does not measure
them (bench_zip.py keeps only each side's best throughput).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict

FORMAT = 1
MB = 1e6


class Spread(TypedDict):
    min: float
    max: float
    rounds: int


class Contestant(TypedDict):
    name: str
    seconds: float | None
    bytes: int | None
    mb_per_s: float
    times: list[float] | None


class Peer(Contestant):
    ratio: float
    spread: Spread | None


class Row(TypedDict):
    id: str
    title: str
    backend: str | None
    statistic: Literal["best", "median"]
    ours: Contestant
    peers: list[Peer]
    ratio: float
    spread: Spread | None
    target: float | None
    met: bool | None
    notes: list[str]


class Results(TypedDict):
    format: int
    script: str
    created: str
    machine: str
    options: dict[str, Any]
    rows: list[Row]
    notes: list[str]


def summary(times: Sequence[float], statistic: Literal["best", "median"]) -> float:
    return min(times) if statistic == "best" else statistics.median(times)


def contestant(
    name: str,
    *,
    seconds: float | None = None,
    size: int | None = None,
    mb_per_s: float | None = None,
    times: Sequence[float] | None = None,
) -> Contestant:
    """A contestant's result; ``mb_per_s`` is computed from *size* and *seconds* if not given."""
    if mb_per_s is None:
        if size is None or seconds is None:
            raise ValueError("give mb_per_s, or size and seconds")
        mb_per_s = size / seconds / MB
    return {
        "name": name,
        "seconds": seconds,
        "bytes": size,
        "mb_per_s": mb_per_s,
        "times": None if times is None else list(times),
    }


def spread(ours_times: Sequence[float], peer_times: Sequence[float]) -> Spread | None:
    """Min and max of the per-round ratios peer / ours (rounds paired in order)."""
    ratios = [peer / ours for ours, peer in zip(ours_times, peer_times, strict=True)]
    if not ratios:
        return None
    return {"min": min(ratios), "max": max(ratios), "rounds": len(ratios)}


def peer(result: Contestant, ratio: float, spread: Spread | None = None) -> Peer:
    return {**result, "ratio": ratio, "spread": spread}


def row(
    id: str,
    title: str,
    ours: Contestant,
    peers: Sequence[Peer],
    *,
    backend: str | None,
    statistic: Literal["best", "median"] = "best",
    target: float | None = None,
    notes: Iterable[str] = (),
) -> Row:
    """A row; its ``ratio`` and ``spread`` are the first peer's."""
    if not peers:
        raise ValueError("a row needs at least one peer")
    first = peers[0]
    return {
        "id": id,
        "title": title,
        "backend": backend,
        "statistic": statistic,
        "ours": ours,
        "peers": list(peers),
        "ratio": first["ratio"],
        "spread": first["spread"],
        "target": target,
        "met": None if target is None else first["ratio"] >= target,
        "notes": list(notes),
    }


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def write(
    path: str | os.PathLike[str],
    script: str,
    rows: Sequence[Row],
    *,
    options: dict[str, Any],
    machine_description: str | None = None,
    notes: Iterable[str] = (),
) -> None:
    """Write a results file (its folder is created if needed)."""
    results: Results = {
        "format": FORMAT,
        "script": script,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_description or machine(),
        "options": options,
        "rows": list(rows),
        "notes": list(notes),
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")


def load(path: str | os.PathLike[str]) -> Results:
    """A results file, checked for the format this module writes."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a benchmark results file of format {FORMAT}")
    return data  # type: ignore[return-value]
