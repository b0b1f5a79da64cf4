"""The lastmile HTTP service (FastAPI) over the optimizer core."""
