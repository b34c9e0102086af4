"""`python -m heart.cli …`: the same as the `heart` console script."""

from heart.cli import entry

entry()
