"""How a run that did all it could, but left something for a person, ends: a Failed state
named NeedsAttention, which the Prefect UI shows red (never a plain success), while calling
the flow still gives its result. Shared by the pipeline's flows and the delivery flow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Any, ParamSpec, TypeVar

from prefect import Flow
from prefect.states import Failed, State
from pydantic import BaseModel

P = ParamSpec("P")
R = TypeVar("R")

NEEDS_ATTENTION = "NeedsAttention"


class WaitsForAPerson(Exception):
    """The data of a run that ended NeedsAttention: why a person is needed, and what the run
    produced (`result`), which calling the flow gives back."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:  # results may be pickled: keep the result
        return (type(self), (str(self), self.result))


class StewardFlow(Flow[P, R]):
    """A flow whose run can end NeedsAttention: a Failed state of that name, so the Prefect
    UI never shows it as a plain success (red, counted with failures, its message saying
    what waits for whom), while the run did all it could. Calling the flow still gives its
    result, as for a Completed run; with return_state=True, the state (whose result() raises
    WaitsForAPerson, carrying the result: see attention_result)."""

    def __call__(  # type: ignore[override]
        self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any
    ) -> Any:
        if return_state:
            return super().__call__(*args, return_state=True, wait_for=wait_for, **kwargs)
        try:
            return super().__call__(*args, wait_for=wait_for, **kwargs)
        except WaitsForAPerson as waiting:
            return waiting.result

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """The run's parameters as the API keeps them. Prefect encodes them with FastAPI's
        jsonable_encoder, which imports FastAPI in each process that starts a run (about
        0.2 s); these flows' parameters (a pydantic request, paths, flags, text) are encoded
        here as that encoder does, and anything else is left to Prefect."""
        if self.ismethod or self.isclassmethod:
            return super().serialize_parameters(parameters)
        encoded: dict[str, Any] = {}
        for key, value in parameters.items():
            if isinstance(value, BaseModel):
                value = value.model_dump(mode="json", by_alias=True)
            elif isinstance(value, PurePath):
                value = str(value)
            if not _plain_json(value):
                return super().serialize_parameters(parameters)
            encoded[key] = value
        return encoded


def _plain_json(value: Any) -> bool:
    """JSON as it stands: what jsonable_encoder gives back unchanged."""
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) is list:
        return all(_plain_json(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    return False


def steward_flow(**options: Any) -> Callable[[Callable[P, R]], StewardFlow[P, R]]:
    """@flow(**options), making a StewardFlow."""

    def make(function: Callable[P, R]) -> StewardFlow[P, R]:
        return StewardFlow(function, **options)

    return make


def attention_result(state: State) -> Any:
    """What a run gave, whether it ended Completed or NeedsAttention (else raises, as
    state.result() does)."""
    if state.name == NEEDS_ATTENTION and state.is_failed():
        waiting = state.result(raise_on_failure=False)
        return waiting.result if isinstance(waiting, WaitsForAPerson) else waiting
    return state.result()


def needs_attention(message: str, result: Any) -> State:
    """The state a run ends in when something waits for a person: `message` says what."""
    return Failed(name=NEEDS_ATTENTION, message=message, data=WaitsForAPerson(message, result))
