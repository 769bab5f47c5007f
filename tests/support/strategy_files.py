"""User strategy files for the tests: a sound one, two biased ones and broken ones."""

from __future__ import annotations

from pathlib import Path

SOUND = """
from maestro_pipeline.strategy import IntParam, SignalSet, Strategy, indicators


def signals(bars, p):
    upper = indicators.shift(indicators.rolling_max(bars.high, p["window"]))
    lower = indicators.shift(indicators.rolling_min(bars.low, p["window"]))
    up, down = bars.close > upper, bars.close < lower
    return SignalSet(long_entries=up, long_exits=down, short_entries=down, short_exits=up)


RANGE_BREAK = Strategy(
    name="range_break",
    description=(
        "Long on a close strictly above the highest high of the `window` bars before it, out "
        "on a close strictly below their lowest low; shorts mirror it."
    ),
    parameters={"window": IntParam(10, 100, default=24)},
    signal_function=signals,
    warmup=lambda p: p["window"] + 1,
)
"""

LOOKAHEAD = """
import numpy as np

from maestro_pipeline.strategy import FloatParam, SignalSet, Strategy


def signals(bars, p):
    close = bars.close
    tomorrow = np.append(close[1:], close[-1])  # the next bar's close: not known yet
    rises = tomorrow > close * (1 + p["edge"])
    return SignalSet(long_entries=rises, long_exits=~rises)


PEEKS_NEXT_CLOSE = Strategy(
    name="peeks_next_close",
    description="Long when the next bar closes higher (reads a bar it cannot know).",
    parameters={"edge": FloatParam(0.0, 0.01, default=0.001)},
    signal_function=signals,
)
"""

UNSTABLE = """
import numpy as np

from maestro_pipeline.strategy import FloatParam, SignalSet, Strategy


def signals(bars, p):
    above = bars.close > bars.close[0] * (1 + p["margin"])  # anchored where the data starts
    before = np.append(False, above[:-1])
    return SignalSet(long_entries=above & ~before, long_exits=~above)


ABOVE_FIRST_CLOSE = Strategy(
    name="above_first_close",
    description="Long while the close is above the history's first close (depends on the start).",
    parameters={"margin": FloatParam(0.0, 0.5, default=0.1)},
    signal_function=signals,
)
"""

SYNTAX_ERROR = """
from maestro_pipeline.strategy import Strategy

BROKEN = Strategy(
    name="broken_syntax",
    description="Never loads."
    parameters={},
)
"""

IMPORT_ERROR = """
import no_such_indicator_library

from maestro_pipeline.strategy import Strategy
"""

RAISES_ON_SIGNALS = """
from maestro_pipeline.strategy import IntParam, SignalSet, Strategy


def signals(bars, p):
    above = bars.close > p["n"]
    return SignalSet(long_entries=above, long_exits=undefined_name)  # noqa: F821


RAISES = Strategy(
    name="raises_on_signals",
    description="Loads, but its signal function raises a NameError.",
    parameters={"n": IntParam(1, 5, default=2)},
    signal_function=signals,
)
"""


def write(directory: Path, **files: str) -> Path:
    """Write ``name=text`` pairs as ``name.py`` files in ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.py").write_text(text.lstrip())
    return directory


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of ``fragment`` in a file written by ``write``."""
    for number, line in enumerate(text.lstrip().splitlines(), start=1):
        if fragment in line:
            return number
    raise ValueError(fragment)
