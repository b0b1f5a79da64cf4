"""The service's HTTP routes, one module per resource: each holds an ``APIRouter`` whose
route functions translate HTTP to a call of :mod:`api.services` (or the core) and back,
taking what they need from :mod:`api.deps` and answering errors through :mod:`api.errors`.
"""
