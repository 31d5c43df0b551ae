"""Amounts of money as reports, tables and figures print them, in one currency.

The currency is an ISO 4217 code (`currency:` in a scenario, `data.currency` in a calibration).
Common codes print with their symbol ($1,234, €1,234, 1,234 ₽); any other valid code prints after
the number (1,234 XYZ). Formatters deep inside tables and figures read the currency of the output
being written from a context variable that `using(code)` sets for one block and restores after it,
so no function signature between the entry point and the formatter has to carry it, and nothing
leaks from one run into the next. Outside any block it is USD, so default output stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT = "USD"
# code -> (symbol, written before the number). A short list of common codes; others print as codes.
SYMBOLS: dict[str, tuple[str, bool]] = {
    "USD": ("$", True),
    "EUR": ("€", True),
    "GBP": ("£", True),
    "JPY": ("¥", True),
    "INR": ("₹", True),
    "BRL": ("R$", True),
    "CAD": ("CA$", True),
    "AUD": ("A$", True),
    "RUB": ("₽", False),
}
_CODE = re.compile(r"[A-Z]{3}")
_current: ContextVar[str] = ContextVar("currency", default=DEFAULT)


def check(code: object) -> str:
    """`code` if it is a currency code (three capital letters, ISO 4217); else ValueError."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValueError(
            f"not a currency code: three capital letters (ISO 4217), e.g. USD, EUR, GBP, RUB; "
            f"known symbols: {', '.join(SYMBOLS)}"
        )
    return code


@contextmanager
def using(code: str | None) -> Iterator[str]:
    """Amounts formatted inside this block are in `code` (None: the currency already in force)."""
    token = _current.set(_current.get() if code is None else check(code))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current() -> str:
    """The currency of the output being written."""
    return _current.get()


def text(number: str, negative: bool = False) -> str:
    """A formatted magnitude with the currency: '1.25M' -> '$1.25M', '1.25M ₽', '1.25M XYZ';
    `negative` puts the minus sign first (-$4.5M)."""
    code = _current.get()
    symbol, before = SYMBOLS.get(code, (code, False))
    sign = "-" if negative else ""
    return f"{sign}{symbol}{number}" if before else f"{sign}{number} {symbol}"


def amount(v: float, decimals: int = 0) -> str:
    """A value with thousands separators: $1,234 / -€1,234.50 / 1,234 ₽."""
    return text(f"{abs(v):,.{decimals}f}", v < 0)


def unit() -> str:
    """The currency's symbol (or code) alone, for axis titles and column heads: '$', '€', 'XYZ'."""
    code = _current.get()
    return SYMBOLS.get(code, (code, False))[0]
