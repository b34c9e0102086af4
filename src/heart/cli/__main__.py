"""`python -m heart.cli …`: the same as the `heart` console script."""

from heart.cli import entry

# guarded: worker processes started by spawn (Dask, multiprocessing) import this module
# as __mp_main__ and must not run the command line again
if __name__ == "__main__":
    entry()
