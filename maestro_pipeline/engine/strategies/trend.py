"""Trend-following rules: moving-average crosses and trend-direction indicators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from maestro_pipeline.engine.authoring import (
    CategoricalParam,
    FloatParam,
    IntParam,
    LessThan,
    SignalSet,
    Strategy,
)
from maestro_pipeline.engine.lazy import LazyModule

if TYPE_CHECKING:
    from maestro_pipeline.engine.strategy import OHLCV, IndicatorCache

# Imported when the first signal is computed: the catalog itself needs none of them.
np = LazyModule("numpy")
ind = LazyModule("maestro_pipeline.engine.indicators")
ft = LazyModule("maestro_pipeline.engine.strategies.features")


def _flip_signals(trend: np.ndarray) -> SignalSet:
    """Enter on a change of direction, exit when the direction turns against the position."""
    previous = ind.shift(trend)
    return SignalSet(
        long_entries=(trend > 0) & (previous < 0),
        long_exits=trend < 0,
        short_entries=(trend < 0) & (previous > 0),
        short_exits=trend > 0,
    )


def _cross_signals(fast: np.ndarray, slow: np.ndarray) -> SignalSet:
    up, down = ind.cross_above(fast, slow), ind.cross_below(fast, slow)
    return SignalSet(up, down, down, up)


def _ema_cross(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    average = ft.close_ema if p["ma_type"] == "ema" else ft.close_sma
    return _cross_signals(cache.get(average, p["fast"]), cache.get(average, p["slow"]))


EMA_CROSS = Strategy(
    name="ema_cross",
    description=(
        "Moving-average crossover. fast and slow are averages of the close over `fast` and "
        "`slow` bars: EMAs (alpha = 2/(n+1), seeded with the simple mean of the first n closes, "
        "so defined from bar n-1) or, with ma_type='sma', simple means of the last n closes. "
        "Long entry on a bar where fast is above slow after being at or below it on the "
        "previous bar; long exit on a bar where fast is below slow after being at or above it. "
        "Shorts enter on the long exit's cross and cover on the long entry's cross."
    ),
    parameters={
        "fast": IntParam(2, 100, default=12),
        "slow": IntParam(5, 400, default=26),
        "ma_type": CategoricalParam(("ema", "sma"), default="ema"),
    },
    signal_function=_ema_cross,
    constraints=(LessThan("fast", "slow"),),
    # Averages forget their seed within e^-20: 10 periods for an EMA; an SMA is exact.
    warmup=lambda p: 10 * p["slow"] if p["ma_type"] == "ema" else p["slow"],
)


def _macd_lines(bars: OHLCV, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray]:
    return ind.macd(bars.close, fast, slow, signal)


def _macd(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    line, signal = cache.get(_macd_lines, p["fast"], p["slow"], p["signal"])
    return _cross_signals(line, signal)


MACD = Strategy(
    name="macd",
    description=(
        "MACD signal-line cross. The MACD line is EMA(fast) minus EMA(slow) of the close, the "
        "signal line the EMA of the MACD line over `signal` bars, every EMA with alpha = "
        "2/(n+1) seeded with the simple mean of its first n defined inputs. Long entry on a "
        "bar where the MACD line is above the signal line after being at or below it on the "
        "previous bar; long exit on the opposite cross (below after at or above). Shorts enter "
        "on the long exit's cross and cover on the long entry's cross."
    ),
    parameters={
        "fast": IntParam(2, 50, default=12),
        "slow": IntParam(5, 200, default=26),
        "signal": IntParam(2, 50, default=9),
    },
    signal_function=_macd,
    constraints=(LessThan("fast", "slow"),),
    warmup=lambda p: 10 * (p["slow"] + p["signal"]),
)


def _triple_ma(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    fast, mid, slow = (cache.get(ft.close_sma, p[k]) for k in ("fast", "mid", "slow"))
    with np.errstate(invalid="ignore"):
        aligned_up = (fast > mid) & (mid > slow)
        aligned_down = (fast < mid) & (mid < slow)
        return SignalSet(
            long_entries=ind.became_true(aligned_up),
            long_exits=fast < mid,
            short_entries=ind.became_true(aligned_down),
            short_exits=fast > mid,
        )


TRIPLE_MA = Strategy(
    name="triple_ma",
    description=(
        "Triple simple moving average alignment over the last `fast`, `mid` and `slow` closes. "
        "Long entry on the first bar of a run where fast > mid > slow (strictly); long exit on "
        "any bar where fast < mid. Short entry on the first bar of a run where fast < mid < "
        "slow; short exit on any bar where fast > mid."
    ),
    parameters={
        "fast": IntParam(2, 50, default=5),
        "mid": IntParam(5, 150, default=20),
        "slow": IntParam(20, 400, default=50),
    },
    signal_function=_triple_ma,
    constraints=(LessThan("fast", "mid"), LessThan("mid", "slow")),
    warmup=lambda p: p["slow"] + 1,
)


def _ichimoku_lines(bars: OHLCV, tenkan: int, kijun: int, senkou: int):
    return ind.ichimoku(bars.high, bars.low, tenkan, kijun, senkou)


def _ichimoku(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    tenkan, kijun, span_a, span_b = cache.get(_ichimoku_lines, p["tenkan"], p["kijun"], p["senkou"])
    close = cache.bars.close
    # NaN-propagating: no cloud (and so no entry) until span B exists as well as span A.
    top, bottom = np.maximum(span_a, span_b), np.minimum(span_a, span_b)
    with np.errstate(invalid="ignore"):
        bullish = (tenkan > kijun) & (close > top)
        bearish = (tenkan < kijun) & (close < bottom)
        return SignalSet(
            long_entries=ind.became_true(bullish),
            long_exits=(tenkan < kijun) | (close < bottom),
            short_entries=ind.became_true(bearish),
            short_exits=(tenkan > kijun) | (close > top),
        )


ICHIMOKU = Strategy(
    name="ichimoku",
    description=(
        "Ichimoku cloud trend. tenkan and kijun are the midpoints (highest high + lowest low) "
        "/ 2 of the last `tenkan` and `kijun` bars, the current one included. The cloud at bar "
        "t is made of span A = (tenkan + kijun) / 2 and span B = the midpoint of the last "
        "`senkou` bars, both as computed at bar t - `kijun` (displaced forward, so only past "
        "bars form it); it exists from the first bar where both spans do (bar senkou - 1 + "
        "kijun): no signal is given while span B is still warming up. Long entry on the first "
        "bar of a run where tenkan > kijun and the close is above both spans; long exit when "
        "tenkan < kijun or the close is below both spans. Short entry on the first bar of a "
        "run where tenkan < kijun and the close is below both spans; short exit when tenkan > "
        "kijun or the close is above both spans."
    ),
    parameters={
        "tenkan": IntParam(3, 30, default=9),
        "kijun": IntParam(10, 60, default=26),
        "senkou": IntParam(20, 120, default=52),
    },
    signal_function=_ichimoku,
    constraints=(LessThan("tenkan", "kijun"), LessThan("kijun", "senkou")),
    warmup=lambda p: p["senkou"] + p["kijun"],
)


def _supertrend_direction(bars: OHLCV, n: int, mult: float) -> np.ndarray:
    return ind.supertrend(bars.high, bars.low, bars.close, n, mult)[1]


def _supertrend(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _flip_signals(cache.get(_supertrend_direction, p["atr_window"], p["multiplier"]))


SUPERTREND = Strategy(
    name="supertrend",
    description=(
        "SuperTrend. ATR is Wilder's average true range over `atr_window` bars (seeded with the "
        "mean of the first `atr_window` true ranges, from bar 1), mid = (high + low) / 2, and "
        "the basic bands mid +/- `multiplier` x ATR. On the first bar with an ATR the bands "
        "are the basic ones and the trend is up if the close is strictly above mid, else down. "
        "Afterwards the upper band takes the basic upper band only if that is lower or the "
        "previous close was above the previous upper band (the lower band mirrors this); a "
        "down trend turns up when the close is strictly above the upper band, an up trend "
        "turns down when it is strictly below the lower band. Long entry on the bar the trend "
        "turns up; long exit on every bar of a down trend. Short entry on the bar the trend "
        "turns down; short exit on every bar of an up trend."
    ),
    parameters={
        "atr_window": IntParam(5, 100, default=10),
        "multiplier": FloatParam(1.0, 6.0, 0.25, default=3.0),
    },
    signal_function=_supertrend,
    # Wilder averages forget their seed within e^-20 after 20 periods.
    warmup=lambda p: 20 * p["atr_window"] + 1,
)


def _sar_direction(bars: OHLCV, step: float, max_step: float) -> np.ndarray:
    return ind.parabolic_sar(bars.high, bars.low, step, max_step)[1]


def _parabolic_sar(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _flip_signals(cache.get(_sar_direction, p["step"], p["max_step"]))


PARABOLIC_SAR = Strategy(
    name="parabolic_sar",
    description=(
        "Wilder's Parabolic SAR stop-and-reverse. Bar 1 starts the trend: up if its midpoint "
        "(high + low) / 2 is at or above bar 0's, with SAR = bar 0's low and the extreme point "
        "= bar 1's high (down: bar 0's high and bar 1's low). Each later bar moves the SAR by "
        "factor x (extreme - SAR), then in an up trend caps it at the lows of the two previous "
        "bars (a down trend floors it at their highs). The trend flips only when price goes "
        "strictly past the SAR (low < SAR in an up trend, high > SAR in a down trend; a touch "
        "does not flip): the SAR becomes the old extreme point, the extreme the bar's low "
        "(high) and the factor `step`. Otherwise a new extreme raises the factor by `step`, up "
        "to `max_step`. Long entry on the bar the trend flips up; long exit on every bar of a "
        "down trend. Short entry on the bar it flips down; short exit on every bar of an up "
        "trend."
    ),
    parameters={
        "step": FloatParam(0.005, 0.1, default=0.02),
        "max_step": FloatParam(0.05, 0.5, default=0.2),
    },
    signal_function=_parabolic_sar,
    constraints=(LessThan("step", "max_step"),),
)


def _kama_line(bars: OHLCV, n: int, fast: int, slow: int) -> np.ndarray:
    return ind.kama(bars.close, n, fast, slow)


def _kama(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    line = cache.get(_kama_line, p["window"], p["fast"], p["slow"])
    close = cache.bars.close
    with np.errstate(invalid="ignore"):
        return SignalSet(
            long_entries=ind.cross_above(close, line),
            long_exits=close < line,
            short_entries=ind.cross_below(close, line),
            short_exits=close > line,
        )


KAMA = Strategy(
    name="kama",
    description=(
        "Kaufman adaptive moving average. KAMA starts at bar `window` (the window+1-th bar) "
        "equal to that bar's close. On each later bar t the efficiency ratio is |close[t] - "
        "close[t - window]| divided by the sum of the `window` absolute one-bar changes up to "
        "t (0 when they sum to 0), the smoothing constant (ER x (2/(fast+1) - 2/(slow+1)) + "
        "2/(slow+1)) squared, and KAMA += constant x (close - KAMA). Long entry on a bar where "
        "the close is above KAMA after being at or below it on the previous bar; long exit on "
        "any bar where the close is below KAMA. Short entry on a bar where the close is below "
        "KAMA after being at or above it; short exit on any bar where it is above."
    ),
    parameters={
        "window": IntParam(5, 50, default=10),
        "fast": IntParam(2, 10, default=2),
        "slow": IntParam(10, 60, default=30),
    },
    signal_function=_kama,
    constraints=(LessThan("fast", "slow"),),
    # The seed decays at least by the slowest constant, (2/(slow+1))^2, each bar.
    warmup=lambda p: p["window"] + 5 * (p["slow"] + 1) ** 2,
)


def _trix_lines(bars: OHLCV, n: int, signal: int) -> tuple[np.ndarray, np.ndarray]:
    line = ind.trix(bars.close, n)
    return line, ind.ema(line, signal)


def _trix(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    return _cross_signals(*cache.get(_trix_lines, p["window"], p["signal"]))


TRIX = Strategy(
    name="trix",
    description=(
        "TRIX momentum. TRIX is 100 x the one-bar relative change of a triple EMA of the close "
        "(EMA of EMA of EMA over `window` bars, each seeded with the simple mean of its first "
        "`window` defined inputs); the signal line is its EMA over `signal` bars. Long entry on "
        "a bar where TRIX is above the signal line after being at or below it on the previous "
        "bar; long exit on the opposite cross. Shorts enter on the long exit's cross and cover "
        "on the long entry's cross."
    ),
    parameters={"window": IntParam(3, 50, default=15), "signal": IntParam(2, 30, default=9)},
    signal_function=_trix,
    warmup=lambda p: 10 * (3 * p["window"] + p["signal"]),
)


def _dmi_lines(bars: OHLCV, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return ind.directional_movement(bars.high, bars.low, bars.close, n)


def _adx_dmi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    plus_di, minus_di, adx = cache.get(_dmi_lines, p["window"])
    with np.errstate(invalid="ignore"):
        trending = adx > p["adx_threshold"]
        return SignalSet(
            long_entries=ind.cross_above(plus_di, minus_di) & trending,
            long_exits=plus_di < minus_di,
            short_entries=ind.cross_below(plus_di, minus_di) & trending,
            short_exits=plus_di > minus_di,
        )


ADX_DMI = Strategy(
    name="adx_dmi",
    description=(
        "Wilder's directional movement over `window` bars. +DM is the rise of the high when it "
        "exceeds both 0 and the fall of the low (else 0), -DM the fall of the low when it "
        "exceeds both 0 and the rise of the high; +DI and -DI are 100 x their Wilder averages "
        "over the ATR, DX = 100 x |+DI - -DI| / (+DI + -DI) and ADX its Wilder average (every "
        "Wilder average seeded with a simple mean). Long entry on a bar where +DI is above -DI "
        "after being at or below it and ADX > `adx_threshold`; long exit on any bar where +DI "
        "< -DI. Short entry on a bar where +DI is below -DI after being at or above it and ADX "
        "> `adx_threshold`; short exit on any bar where +DI > -DI."
    ),
    parameters={
        "window": IntParam(5, 50, default=14),
        "adx_threshold": FloatParam(5.0, 50.0, default=20.0),
    },
    signal_function=_adx_dmi,
    warmup=lambda p: 40 * p["window"],
)


def _heikin_ashi_candles(bars: OHLCV) -> tuple[np.ndarray, np.ndarray]:
    return ind.heikin_ashi(bars.open, bars.high, bars.low, bars.close)


def _heikin_ashi(cache: IndicatorCache, p: Mapping[str, Any]) -> SignalSet:
    ha_open, ha_close = cache.get(_heikin_ashi_candles)
    bullish, bearish = ha_close > ha_open, ha_close < ha_open
    return SignalSet(
        long_entries=ind.streak_length(bullish) == p["streak"],
        long_exits=bearish,
        short_entries=ind.streak_length(bearish) == p["streak"],
        short_exits=bullish,
    )


HEIKIN_ASHI = Strategy(
    name="heikin_ashi",
    description=(
        "Heikin-Ashi trend. HA close = (open + high + low + close) / 4; HA open = (open + "
        "close) / 2 on bar 0, then the mean of the previous HA open and HA close. A candle is "
        "bullish when HA close > HA open and bearish when HA close < HA open (equal is "
        "neither). Long entry on the bar that completes exactly `streak` consecutive bullish "
        "candles; long exit on any bearish candle. Short entry on the bar that completes "
        "exactly `streak` consecutive bearish candles; short exit on any bullish candle."
    ),
    parameters={"streak": IntParam(1, 10, default=3)},
    signal_function=_heikin_ashi,
)

STRATEGIES = (
    EMA_CROSS,
    MACD,
    TRIPLE_MA,
    ICHIMOKU,
    SUPERTREND,
    PARABOLIC_SAR,
    KAMA,
    TRIX,
    ADX_DMI,
    HEIKIN_ASHI,
)
