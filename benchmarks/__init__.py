"""Benchmarks and quality evaluations, run side by side with the peers.

Each module is runnable with `python -m benchmarks.<name>`; results go to
`benchmarks/RESULTS.md` with the command that produced them.
"""
