"""/api/v1/webhooks/: owners and platform admins register, read and remove webhook endpoints."""

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api.models import WebhookDelivery, WebhookEndpoint
from api.permissions import ActorOrReadOnly
from api.webhooks import addresses, services
from api.webhooks.events import EVENT_TYPES
from portal import ratelimit, roles
from tenants import selectors


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "message_id", "event_type", "status", "attempts", "response_status", "last_error",
            "created_at", "last_attempt_at", "delivered_at",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookEndpointSerializer(serializers.ModelSerializer):
    recent_deliveries = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "description", "tenant", "events", "is_active", "created_at",
            "consecutive_failures", "disabled_at", "disabled_reason", "recent_deliveries",
        ]  # fmt: skip
        read_only_fields = fields

    def get_recent_deliveries(self, endpoint) -> list[dict]:
        return WebhookDeliverySerializer(endpoint.deliveries.order_by("-id")[:10], many=True).data


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text=addresses.HELP)
    description = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )
    tenant = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Omit for every tenant (admins)."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=True
    )


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="Shown in this answer only; never again.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Platform admins and auditors see every endpoint; others those of their own tenants."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAuthenticated, ActorOrReadOnly]
    queryset = WebhookEndpoint.objects.none()  # for the schema

    def get_queryset(self):
        user = self.request.user
        endpoints = WebhookEndpoint.objects.select_related("tenant")
        if roles.sees_all_tenants(user):
            return endpoints
        return endpoints.filter(Q(tenant__owner=user) | Q(created_by=user, tenant__isnull=False))

    def cursor_ordering(self, request):
        return ("-id",)

    @extend_schema(
        request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer}
    )
    def create(self, request):
        incoming = WebhookEndpointCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        if data["tenant"] is not None:
            data["tenant"] = selectors.tenant_get_for(request.user, data["tenant"])
        ratelimit.limit_actions(request.user)  # the pages' limit: 429 with Retry-After
        endpoint, secret = services.endpoint_create(actor=request.user, **data)
        body = WebhookEndpointSerializer(endpoint).data
        return Response({**body, "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        endpoint = self.get_object()
        ratelimit.limit_actions(request.user)
        services.endpoint_delete(actor=request.user, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)
