"""Celery tasks: thin wrappers that hand ids to the engine and re-queue what must wait."""

import logging
import random

from celery import shared_task
from django.conf import settings

from provisioning import engine, sweeps
from provisioning.errors import LockHeld
from provisioning.runs import enqueue

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reconcile_tenant(tenant_id: int) -> None:
    """Advance the tenant's open run; come back later if it waits, retries or is locked."""
    try:
        delay = engine.reconcile(tenant_id)
    except LockHeld:
        # The holder carries on; we look again in case it dies (its lease then expires).
        delay = settings.PORTAL_WAIT_INTERVAL * (0.5 + random.random())  # noqa: S311
    if delay is not None:
        enqueue(tenant_id, countdown=delay)


@shared_task(ignore_result=True)
def reconcile_all() -> None:
    """Beat: pick up stalled runs and start a drift check of every ready tenant."""
    for tenant_id in sweeps.tenants_needing_attention():
        enqueue(tenant_id)
