"""The portal's own Celery tasks: the workers' heartbeat."""

from celery import shared_task

from portal import heartbeat as heartbeats


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Beat, every PORTAL_HEARTBEAT_INTERVAL seconds, run by a provisioning worker."""
    heartbeats.beat()
