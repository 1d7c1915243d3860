"""Deposit interest, loan repayment and currency exchange, in Decimal arithmetic.

Pure functions, checked in tests against hand-worked examples; the actions
that call them live in ``actions.products``.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal, getcontext

getcontext().prec = 28
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("100000000000")  # 1,000亿: anything above is a typing slip
MAX_TERM_MONTHS = 360


def _d(value) -> Decimal:
    return Decimal(str(value))


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def valid_amount(amount) -> bool:
    return amount is not None and 0 < _d(amount) <= MAX_AMOUNT


def valid_term(months) -> bool:
    return months is not None and 1 <= _d(months) <= MAX_TERM_MONTHS and _d(months) == _d(months).to_integral_value()


def deposit_interest(amount, annual_rate_percent, months) -> Decimal:
    """Simple interest of a time deposit held to maturity: amount × rate × months / 12."""
    return _round(_d(amount) * _d(annual_rate_percent) / 100 * _d(months) / 12)


def exchange(amount, price_per_100, to_foreign: bool) -> Decimal:
    """A currency exchange at a quoted price in yuan per 100 units of the foreign currency:
    yuan for ``amount`` foreign units, or (``to_foreign``) foreign units for ``amount`` yuan."""
    price = _d(price_per_100) / 100
    return _round(_d(amount) / price if to_foreign else _d(amount) * price)


@dataclasses.dataclass(frozen=True)
class Repayment:
    annuity_monthly: Decimal  # 等额本息: the same payment every month
    annuity_interest: Decimal
    linear_first: Decimal  # 等额本金: first month's payment
    linear_step: Decimal  # ... which falls by this much every month
    linear_interest: Decimal


def loan_repayment(principal, annual_rate_percent, months) -> Repayment:
    """Monthly payment and total interest under 等额本息 and 等额本金."""
    p, n = _d(principal), int(months)
    r = _d(annual_rate_percent) / 100 / 12
    if r == 0:
        monthly = p / n
        return Repayment(_round(monthly), Decimal("0.00"), _round(monthly), Decimal("0.00"), Decimal("0.00"))
    growth = (1 + r) ** n
    annuity = p * r * growth / (growth - 1)
    linear_principal = p / n
    return Repayment(
        annuity_monthly=_round(annuity),
        annuity_interest=_round(annuity * n - p),
        linear_first=_round(linear_principal + p * r),
        linear_step=_round(linear_principal * r),
        linear_interest=_round(p * r * (n + 1) / 2),
    )
