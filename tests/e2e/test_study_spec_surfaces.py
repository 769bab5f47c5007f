"""One study spec, four surfaces: Dagster run config, CLI options, API request, settings."""

from __future__ import annotations

from typer.main import get_command

from api.models import StudyRequest
from maestro_pipeline.cli import app
from maestro_pipeline.cli.study_options import option_flag
from maestro_pipeline.defs.studies import WalkForwardStudyConfig
from maestro_pipeline.engine.walk_forward.config import setting_infos
from maestro_pipeline.settings import load_settings

NAMES = [info.name for info in setting_infos()]


def _other_value(info):
    """A valid value different from the spec's default."""
    if info.choices:
        return next(c for c in info.choices if c != info.default)
    if info.type is bool:
        return not info.default
    if info.type is int:
        return info.default + 1
    return info.default / 2 if info.default else 0.25


def test_dagster_run_config_offers_every_setting_with_its_description():
    fields = WalkForwardStudyConfig.model_fields
    assert list(fields) == NAMES
    for info in setting_infos():
        assert info.description in fields[info.name].description
        assert info.env_var in fields[info.name].description
        assert fields[info.name].default is None  # unset: the deployment's default applies


def test_cli_walk_forward_offers_every_setting_with_default_and_variable():
    command = get_command(app).commands["walk-forward"]
    options = {param.name: param for param in command.params}
    for info in setting_infos():
        option = options[info.name]
        assert option_flag(info) in option.opts
        assert option.default == info.default
        assert option.envvar == info.env_var
        assert info.description in option.help


def test_api_request_offers_every_setting_with_the_spec_bounds():
    properties = StudyRequest.model_json_schema()["properties"]
    for info in setting_infos():
        schema = properties[info.name]
        text = str(schema)
        if info.low is not None:
            bound = "exclusiveMinimum" if info.low_open else "minimum"
            assert f"'{bound}': {info.low}" in text
        if info.high is not None:
            bound = "exclusiveMaximum" if info.high_open else "maximum"
            assert f"'{bound}': {info.high}" in text
        if info.choices:
            assert all(choice in text for choice in info.choices)


def test_settings_take_every_default_from_its_variable():
    env = {info.env_var: str(_other_value(info)) for info in setting_infos()}
    config = load_settings(env).study_config()
    for info in setting_infos():
        assert getattr(config, info.name) == _other_value(info), info.name


def test_cli_refuses_a_value_outside_the_spec_naming_its_option():
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["walk-forward", "--strategy", "ema_cross", "--symbol", "BTC/USD", "--splits", "0"]
    )
    assert result.exit_code == 2
    assert "--splits" in result.output
