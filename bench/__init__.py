"""Tenure's reproducible benchmark: `python -m bench --help`, bench/README.md."""
