"""prefect.yaml's deployments, as a model: the one source of truth for `prefect deploy` and
`briefings serve`, checked before anything is registered or served.

Only what the application reads is checked; the other keys Prefect knows (pull steps, job
variables, versions) are left for Prefect.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from briefings.config.errors import ConfigurationError, shown
from briefings.config.problems import YamlFileError, problems, read_yaml
from briefings.config.text import Line, problem

_ENTRYPOINT = re.compile(r"^[\w./-]+\.py:[A-Za-z_]\w*$")
_EXAMPLE = "flows/pipeline.py:publish_briefings"


def _none_as(empty: Any) -> Callable[[Any], Any]:
    def replace(value: Any) -> Any:
        return empty if value is None else value

    return replace


def _concurrency_limit(value: Any) -> Any:
    """A number of runs at once (1 or more), or Prefect's mapping (limit, collision_strategy)."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise problem(
        f"concurrency_limit must be a whole number, 1 or more, or a mapping with limit "
        f"(found {value!r})"
    )


class WorkPool(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: Line | None = None


class DeploymentEntry(BaseModel):
    """One deployment as prefect.yaml declares it."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    name: Line
    entrypoint: str = Field(
        pattern=_ENTRYPOINT.pattern,
        json_schema_extra={"invalid": f"entrypoint must be like {_EXAMPLE}"},
    )
    description: str | None = None
    parameters: Annotated[dict[str, Any], BeforeValidator(_none_as({}))] = {}
    schedules: Annotated[list[dict[str, Any]], BeforeValidator(_none_as([]))] = []
    concurrency_limit: Annotated[Any, BeforeValidator(_concurrency_limit)] = None
    tags: Annotated[list[Line], BeforeValidator(_none_as([]))] = []
    work_pool: Annotated[WorkPool, BeforeValidator(_none_as({}))] = WorkPool()


class PrefectFile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    deployments: Annotated[list[DeploymentEntry], BeforeValidator(_none_as([]))] = []


class DeploymentFileError(ConfigurationError):
    """prefect.yaml cannot be read, or declares a deployment that cannot be used."""


def read_deployments(path: Path) -> list[DeploymentEntry]:
    """The deployments of prefect.yaml, each checked; none at all is an error."""
    try:
        data = read_yaml(path)
    except YamlFileError as error:
        raise DeploymentFileError(f"cannot read {shown(path)}: {error.problem}") from None
    try:
        deployments = PrefectFile.model_validate(data).deployments
    except ValidationError as error:
        found = problems(error, PrefectFile)
        raise DeploymentFileError(f"{shown(path)}: " + "; ".join(found)) from None
    if not deployments:
        raise DeploymentFileError(f"no deployments in {shown(path)}")
    return deployments
