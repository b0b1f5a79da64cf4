"""What the service says about itself: its version (``GET /healthz``, the OpenAPI
document's ``info.version``)."""

from importlib.metadata import PackageNotFoundError, version


def service_version() -> str:
    """The installed lastmile's version (``0+unknown`` from a source tree not installed)."""
    try:
        return version("lastmile")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
