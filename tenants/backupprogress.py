"""A running backup's progress kept on its row, for the tenant page to follow."""

import time

from django.utils import timezone

from provisioning.backup import PHASES
from tenants.models import Backup

EVERY = 1.0  # seconds between two writes within one part: a row, not a log of every file


class BackupProgress:
    """Hears write_backup's parts as they start and the bytes written so far; writes them to
    the backup's row while it still runs (a late worker never overwrites an ended one)."""

    def __init__(self, backup_id: int, *, files: bool) -> None:
        self.backup_id = backup_id
        # Without a cluster no files Job runs: one part fewer.
        self.parts = [p for p in PHASES if files or p != Backup.Phase.FILES]
        self.phase, self.written_at = "", 0.0

    def __call__(self, phase: str, bytes_done: int) -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.written_at < EVERY:
            return
        fields = {"bytes_done": bytes_done, "steps_total": len(self.parts)}
        if phase != self.phase:
            fields |= {
                "phase": phase,
                "phase_at": timezone.now(),
                "steps_done": self.parts.index(phase),
            }
        Backup.objects.filter(pk=self.backup_id, state=Backup.State.RUNNING).update(**fields)
        self.phase, self.written_at = phase, now
