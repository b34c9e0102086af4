"""Batch triage of call files: reading an export (io), triaging it in chunks (run), the
printed summary (summary) and synthetic calls for the demo, tests and benchmarks."""
