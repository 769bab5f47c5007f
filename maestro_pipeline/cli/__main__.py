"""``python -m maestro_pipeline.cli``: the same ``maestro`` command."""

from maestro_pipeline.cli import app

app()
