"""Valid JSON only: every planning output goes through :func:`dumps`.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which no strict JSON
reader accepts. Here a missing or undefined number (NaN, ±inf) becomes ``null``,
NumPy scalars become plain numbers, dates and paths become text, and
``allow_nan=False`` makes any number that slipped through an error, not a bad file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def clean(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps(..., allow_nan=False)`` accepts."""
    if obj is None or isinstance(obj, bool | str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return clean(obj.item())
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=str) if isinstance(obj, set | frozenset) else obj
        return [clean(v) for v in items]
    if isinstance(obj, np.ndarray):
        return [clean(v) for v in obj.tolist()]
    if isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON: {type(obj).__name__}")


def dumps(obj: Any, *, indent: int | None = 1) -> str:
    return json.dumps(clean(obj), indent=indent, allow_nan=False)


def write(path: Path, obj: Any) -> Path:
    Path(path).write_text(dumps(obj) + "\n")
    return Path(path)
