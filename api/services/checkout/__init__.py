"""The checkout: promise, holds, confirmed orders, the day's routes and its stock, over
the database.

:class:`CheckoutService` is one class assembled from one module per concern:
:mod:`.promise`, :mod:`.holds`, :mod:`.publish`, :mod:`.stock` (the day it serves in
:mod:`.service`); :mod:`.answers` is what its routes answer."""

from api.services.checkout.common import DAY_S, OPTION_TTL_S, CheckoutError
from api.services.checkout.promise import OptionCodec, Quote
from api.services.checkout.service import CheckoutService
from api.services.checkout.stock import STOCK_BATCH_ROWS

__all__ = [
    "DAY_S",
    "OPTION_TTL_S",
    "STOCK_BATCH_ROWS",
    "CheckoutError",
    "CheckoutService",
    "OptionCodec",
    "Quote",
]
