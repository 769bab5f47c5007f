"""The study settings as command-line options, derived from the one study spec.

Every field of ``WalkForwardConfig`` becomes an option named after it (``n_splits`` ->
``--splits``, ``is_oos_ratio`` -> ``--is-oos-ratio``) with the spec's default, description and
bounds in its help, and the deployment's ``MAESTRO_STUDY_*`` variable as its fallback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from maestro_pipeline.engine.walk_forward.config import (
    ConfigError,
    SettingInfo,
    WalkForwardConfig,
    setting_infos,
)


def option_flag(info: SettingInfo) -> str:
    """``--splits`` for ``n_splits``."""
    return "--" + info.short_name.replace("_", "-")


def _option(info: SettingInfo) -> inspect.Parameter:
    bounds = info.bounds_text()
    help_text = f"{info.description}{f' ({bounds})' if bounds else ''}"
    flags = [option_flag(info)]
    if info.type is bool:
        flags = [f"{option_flag(info)}/--no-{info.short_name.replace('_', '-')}"]
    option = typer.Option(
        info.default, *flags, help=help_text, envvar=info.env_var, show_envvar=False
    )
    annotation = str if info.choices else info.type
    return inspect.Parameter(
        info.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
    )


def with_study_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add every study setting as an option; the command receives them as ``study=...``.

    ``command`` takes a keyword ``study: dict`` holding the settings as given.
    """
    own = [
        p
        for p in inspect.signature(command, eval_str=True).parameters.values()
        if p.name != "study"
    ]
    names = [info.name for info in setting_infos()]

    def wrapper(**kwargs: Any) -> Any:
        study = {name: kwargs.pop(name) for name in names}
        return command(**kwargs, study=study)

    # typer reads the options from the signature (evaluated annotations, no string ones).
    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    wrapper.__module__ = command.__module__
    wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*own, *(_option(info) for info in setting_infos())]
    )
    return wrapper


def study_config(values: dict[str, Any]) -> WalkForwardConfig:
    """The spec from option values; a bad value is a usage error naming its option."""
    try:
        return WalkForwardConfig(**values)
    except ConfigError as exc:
        info = next((i for i in setting_infos() if i.name == exc.field), None)
        hint = option_flag(info) if info else None
        raise typer.BadParameter(str(exc), param_hint=hint) from None
