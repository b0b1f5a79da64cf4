"""Benchmarks: speed and quality figures of lastmile's engines (``lastmile bench ...``)."""
