"""Tenure's reproducible benchmark (issue 5): `python -m bench --help`, bench/README.md."""
