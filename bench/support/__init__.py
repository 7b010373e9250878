"""Helpers shared by the benchmarks (a package, so CI's ``bench/*.py --quick`` loop skips it)."""
