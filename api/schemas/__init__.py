"""The request and response bodies of the service (pydantic): what the OpenAPI document
describes. Every request body derives from :class:`api.schemas.base.RequestModel`."""
