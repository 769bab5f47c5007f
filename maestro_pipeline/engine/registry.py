"""The registry of strategies, by name."""

from __future__ import annotations

from maestro_pipeline.engine.authoring import Strategy
from maestro_pipeline.engine.strategies import ALL_STRATEGIES

_BY_NAME: dict[str, Strategy] = {s.name: s for s in ALL_STRATEGIES}
if len(_BY_NAME) != len(ALL_STRATEGIES):
    raise RuntimeError("two strategies share a name")


def strategy_names() -> list[str]:
    """Names of every registered strategy, in catalog order."""
    return list(_BY_NAME)


def all_strategies() -> list[Strategy]:
    """Every registered strategy, in catalog order."""
    return list(_BY_NAME.values())


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; ``KeyError`` lists the known names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"unknown strategy {name!r}; known strategies: {', '.join(_BY_NAME)}"
        ) from None
