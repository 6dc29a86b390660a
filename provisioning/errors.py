"""The two kinds of provisioning error: worth retrying, or needing a human."""


class TransientError(Exception):
    """Network trouble, 5xx, 429, a timeout, a lock held: the same call may work later."""


class StepFailed(Exception):
    """Bad input, a 4xx, a conflict a human must settle: retrying alone won't help."""


class LockHeld(TransientError):
    """Another worker is reconciling this tenant right now."""


class Displaced(Exception):
    """Another worker took the run over: this one's writes are refused and it must stop."""
