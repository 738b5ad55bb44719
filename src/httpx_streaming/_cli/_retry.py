"""The one retry loop of the command line: the POST of a body and an archive written to a file.

An attempt sends (or writes) the whole body once, read afresh from its files
and URLs. A failed attempt is tried again when the failure may pass on the
next one: a connection failure or a 5xx answer, of the upload or of a source
URL. Each retry is announced above the progress bar (or, with ``--verbose``,
on standard error) and waits a delay that doubles from ``--retry-delay``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import anyio

from .._progress import ProgressBar
from ._failures import PROG, CommandError, describe_failure, unwrap

T = TypeVar("T")

_MAX_DELAY = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """``--retries``, ``--retry-delay`` and ``--verbose``: how often, how patiently, how loudly."""

    retries: int
    first_delay: float
    verbose: bool

    @property
    def attempts(self) -> int:
        """The most attempts to make: the first one and the retries."""
        return self.retries + 1

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the failed *attempt* (from 1): doubled each time, at most 30."""
        return float(min(self.first_delay * 2 ** (attempt - 1), _MAX_DELAY))


def retryable(exc: BaseException) -> bool:
    """Connection-level failures and 5xx answers may pass on the next attempt."""
    import httpx

    exc = unwrap(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError) and not isinstance(
        exc, httpx.UnsupportedProtocol | httpx.ProxyError
    )


def _always() -> bool:
    return True


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    bar: ProgressBar,
    *,
    repeatable: Callable[[], bool] = _always,
) -> T:
    """Await ``attempt()`` until it succeeds, at most ``policy.attempts`` times.

    A failure ends the loop when it is not ``retryable``, when no
    attempt is left, or when ``repeatable()`` says the output cannot take the
    body again (a pipe that was already written to). The failure then
    propagates; after more than one attempt, as a ``CommandError`` whose
    message says how many were made.
    """
    number = 1
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if number >= policy.attempts or not retryable(exc) or not repeatable():
                _give_up(exc, number)
            reason = _reason(exc)
        delay = policy.delay(number)
        number += 1
        _notice(
            policy,
            bar,
            f"{reason}; retrying in {delay:g} s (attempt {number} of {policy.attempts})",
        )
        await anyio.sleep(delay)


def _reason(exc: BaseException) -> str:
    problem = describe_failure(exc)
    return problem[1] if problem else type(exc).__name__


def _give_up(exc: Exception, attempts: int) -> NoReturn:
    """Re-raise the final failure; after retries, say how many attempts were made."""
    problem = describe_failure(exc)
    if attempts == 1 or problem is None:
        raise exc
    raise CommandError(problem[0], f"{problem[1]} (after {attempts} attempts)") from exc


def _notice(policy: RetryPolicy, bar: ProgressBar, message: str) -> None:
    line = f"{PROG}: {message}"
    if bar.enabled:
        bar.note(line)
    elif policy.verbose:
        print(line, file=sys.stderr, flush=True)
