"""Back-in-stock alerts as the API reads and answers them (``/v1/back-in-stock``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.checkout import Address, ResolvedAddress, Strict

# E.164: a plus, a country code, at most 15 digits in all (ITU-T E.164).
PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
# An e-mail address as a gateway takes it: one @, a dot in the domain, no spaces; at most
# 254 characters (RFC 5321's path limit less its brackets).
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_CHARS = 254


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
    contact: str | None = Field(None, description="Answered to checkout keys only.")
    status: Literal["waiting", "notified"]
    created_at: datetime
    notified_at: datetime | None
    event_id: str | None = Field(None, description="The `stock.back_in_stock` event sent.")
