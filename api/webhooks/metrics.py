"""Webhook series for /metrics: deliveries by outcome, endpoints disabled."""

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from api.models import WebhookDelivery, WebhookEndpoint


def families():
    deliveries = CounterMetricFamily(
        "portal_webhook_deliveries", "Webhook deliveries by outcome.", labels=["outcome"]
    )
    counts = dict(WebhookDelivery.objects.values_list("status").annotate(n=Count("id")).order_by())
    for status in WebhookDelivery.Status.values:
        deliveries.add_metric([status], counts.get(status, 0))
    yield deliveries
    yield GaugeMetricFamily(
        "portal_webhook_endpoints_disabled",
        "Webhook endpoints disabled after failing deliveries.",
        value=WebhookEndpoint.objects.filter(disabled_at__isnull=False, is_active=False).count(),
    )
