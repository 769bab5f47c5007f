"""vectorbt's kernels load without the rest of vectorbt, and the full package still works after."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

LITE_THEN_FULL = textwrap.dedent(
    """
    import sys
    import numpy as np
    from maestro_pipeline.engine.backtest import BacktestSettings, run_backtest
    from maestro_pipeline.engine.registry import get_strategy
    from maestro_pipeline.sources.sample import SAMPLE_FILES
    from maestro_pipeline.engine.bars import resample_bars
    import polars as pl

    bars = resample_bars(pl.read_parquet(SAMPLE_FILES["BTC/USD"]), "1h").tail(5000)
    result = run_backtest(bars, get_strategy("ema_cross"), {}, BacktestSettings(fees=0.001))
    heavy = sorted(m for m in ("quantstats", "ccxt", "matplotlib", "vectorbt.portfolio.base")
                   if m in sys.modules)
    print("heavy:", heavy)

    import vectorbt as vbt
    from maestro_pipeline.engine.backtest import simulate_signals
    from maestro_pipeline.engine.strategy import strategy_signals

    signals = strategy_signals(bars, get_strategy("ema_cross"), [{}])
    portfolio = simulate_signals(bars, signals, BacktestSettings(fees=0.001))
    assert isinstance(portfolio, vbt.Portfolio)
    same = np.array_equal(portfolio.value().to_numpy()[:, 0], result.equity.to_numpy())
    print("same:", same)
    """
)


def test_kernels_load_alone_and_the_full_package_follows_in_the_same_process():
    done = subprocess.run(
        [sys.executable, "-c", LITE_THEN_FULL],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "heavy: []" in done.stdout
    assert "same: True" in done.stdout
