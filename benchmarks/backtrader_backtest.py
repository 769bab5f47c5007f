"""One Backtrader backtest in a fresh process: the old engine's cost as a person felt it.

    .venv/bin/python benchmarks/backtrader_backtest.py BARS.parquet [--strategy ema_cross]

Reads the bars with polars, runs the Backtrader twin of the strategy (the parity reference in
tests/parity) with the engine's conventions (next-open fills, fees 0.1 %), prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "parity"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bars", type=Path)
    parser.add_argument("--strategy", default="ema_cross")
    args = parser.parse_args()
    import polars as pl
    from backtrader_reference import run_reference

    from maestro_pipeline.engine.registry import get_strategy

    bars = pl.read_parquet(args.bars)
    params = get_strategy(args.strategy).validate()
    result = run_reference(bars, args.strategy, params, 0.001, 0.0, 10_000.0)
    print(
        json.dumps(
            {
                "strategy": args.strategy,
                "bars": bars.height,
                "final_equity": float(result.values[-1]),
                "trades": result.trade_count,
                "seconds_in_process": time.perf_counter() - STARTED,
            }
        )
    )


if __name__ == "__main__":
    main()
