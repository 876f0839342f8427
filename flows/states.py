"""How a run that did all it could, but left something for a person, ends: a Failed state
named NeedsAttention, which the Prefect UI shows red (never a plain success), while calling
the flow still gives its result. Shared by the pipeline's flows and the delivery flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Flow
from prefect.states import Failed, State

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
