"""Back-in-stock alerts as the API reads and answers them (``/v1/back-in-stock``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.checkout import (
    EMAIL,
    MAX_EMAIL_CHARS,
    PHONE,
    Address,
    CustomerId,
    ResolvedAddress,
    Strict,
)


class BackInStockIn(Strict):
    """Tell ``contact`` by ``channel`` when ``qty`` of ``sku`` is promisable at
    ``address`` (the retailer's gateway sends the SMS or e-mail)."""

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(1, gt=0, le=999)
    address: Address
    channel: Literal["sms", "email"]
    contact: str = Field(
        min_length=1,
        max_length=MAX_EMAIL_CHARS,
        description="An E.164 phone number (`+33612345678`) for sms, an e-mail address "
        "for email. Personal data: shown only to checkout keys, never logged.",
    )
    customer_id: CustomerId | None = Field(
        None,
        description="The retailer's opaque customer id: the alert's contact is erased with "
        "the customer's personal data (`DELETE /v1/customers/{customer_id}/personal-data`).",
    )

    @model_validator(mode="after")
    def _contact_fits_channel(self) -> BackInStockIn:
        pattern, what = (PHONE, "an E.164 phone number such as +33612345678") if (
            self.channel == "sms") else (EMAIL, "an e-mail address")  # fmt: skip
        if not pattern.fullmatch(self.contact):
            raise ValueError(f"contact: for channel {self.channel!r} give {what}")
        return self


class BackInStockOut(BaseModel):
    id: str
    sku: str
    qty: int
    address: ResolvedAddress
    channel: Literal["sms", "email"]
    contact: str | None = Field(
        None, description="Answered to checkout keys only; null once erased."
    )
    customer_id: str | None = None
    status: Literal["waiting", "notified", "erased"] = Field(
        description="erased: its customer's personal data was erased before it was told."
    )
    created_at: datetime
    notified_at: datetime | None
    event_id: str | None = Field(None, description="The `stock.back_in_stock` event sent.")
