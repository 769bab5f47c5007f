"""vectorbt's numba kernels (portfolio, records) and enums, the only parts the engine runs.

Kept behind this one module so that the way they are imported is decided in one place.
"""

from __future__ import annotations

from vectorbt.portfolio import enums
from vectorbt.portfolio import nb as portfolio_nb
from vectorbt.records import nb as records_nb

__all__ = ["enums", "portfolio_nb", "records_nb"]
