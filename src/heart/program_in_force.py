"""The program in force for this deployment (``settings.HEART_PROGRAM``).

Every live part (intake, dispatch, the pages, the API) asks this one function, so a
deployment runs exactly one program file; it is loaded once per process.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from heart.domain.program import Program
from heart.domain.program_file import load_program


@lru_cache(maxsize=8)
def _load(name: str) -> Program:
    return load_program(name)


def current_program() -> Program:
    """The program in force (settings.HEART_PROGRAM), loaded once per process."""
    return _load(settings.HEART_PROGRAM)
