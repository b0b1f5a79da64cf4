"""The service's two HTML pages (``api/pages``), served as they are: the customer's
tracking page and the planner's live map. They hold no data; they fetch it with the
token or key they are given."""

from importlib.resources import files


def page(name: str) -> str:
    """The text of ``api/pages/<name>``."""
    return files("api.pages").joinpath(name).read_text(encoding="utf-8")
