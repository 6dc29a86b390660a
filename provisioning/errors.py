"""The two kinds of provisioning error: worth retrying, or needing a human."""


class TransientError(Exception):
    """Network trouble, 5xx, 429, a timeout, a lock held: the same call may work later."""


class Unavailable(TransientError):
    """An outside system didn't answer or said it is busy (network, 5xx, 429): an outage.

    `retry_after` is the wait the system asked for (Retry-After), if any; `unsent` is True when
    the request surely wasn't acted on (refused before it was read: 429, no connection), so even
    a request that isn't idempotent may be sent again.
    """

    def __init__(
        self, message: str, *, system: str, retry_after: float | None = None, unsent: bool = False
    ):
        super().__init__(message)
        self.system = system
        self.retry_after = retry_after
        self.unsent = unsent


class StepFailed(Exception):
    """Bad input, a 4xx, a conflict a human must settle: retrying alone won't help."""


class LockHeld(TransientError):
    """Another worker is reconciling this tenant right now."""


class Displaced(Exception):
    """Another worker took the run over: this one's writes are refused and it must stop."""
