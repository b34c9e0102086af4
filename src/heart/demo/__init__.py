"""The demos: `heart demo` (batch: synthetic calls triaged into the database) and
`heart serve --demo` (live: seeded teams and accounts, replayed calls and moving teams).

Top-level code: only the command line imports it, once Django is set up.
"""
