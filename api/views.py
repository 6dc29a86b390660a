"""The API's endpoints: thin views over tenants.selectors and tenants.services."""

from django.db.models import F
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api import serializers as s
from api.etags import check_if_match, etag_of
from api.permissions import ActorOrReadOnly, ApproverOrAuditorReads, SeesEverything
from portal import roles
from provisioning.capacity import plan_capacity_hint
from provisioning.models import Run
from tenants import selectors, services
from tenants.models import AuditEvent, Plan, Tenant

# The list page's `sort` names (tenants.views.SORTS), on fields a cursor can hold.
SORTS = {
    "name": "slug",
    "state": "state",
    "plan": "plan_order",
    "created": "created_at",
    "owner": "owner_name",
}
SORT_CHOICES = [*SORTS, *(f"-{name}" for name in SORTS)]

ETAG_HEADER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The tenant's ETag as last read; 412 if it changed since.",
)
REFUSED = OpenApiResponse(description="Refused, with the page's sentence in `detail`.")


def _tenant_response(tenant: Tenant, *, code: int = status.HTTP_200_OK, headers=None):
    data = s.TenantSerializer(tenant).data
    return Response(data, status=code, headers={"ETag": etag_of(data), **(headers or {})})


class TenantViewSet(viewsets.GenericViewSet):
    """Tenants the caller may see: all for platform admins and auditors, else their own."""

    lookup_value_regex = r"\d+"

    serializer_class = s.TenantSerializer
    permission_classes = [IsAuthenticated, ActorOrReadOnly]
    queryset = Tenant.objects.none()  # for the schema; every call reads through the selectors

    def get_queryset(self):
        params = self.request.query_params
        filters = {
            k: params.get(k, "").replace("\x00", "").strip()
            for k in ("state", "plan", "owner", "q")
        }
        return selectors.tenant_list(user=self.request.user, **filters).annotate(
            plan_order=F("plan__sort_order"), owner_name=F("owner__username")
        )

    def cursor_ordering(self, request):
        if self.action in ("runs", "events"):
            return ("-id",)
        sort = request.query_params.get("sort", "")
        if sort not in SORT_CHOICES:
            return ("-created_at", "-id")
        field = SORTS[sort.removeprefix("-")]
        return (f"-{field}" if sort.startswith("-") else field, "-id")

    def _tenant(self, pk) -> Tenant:
        return selectors.tenant_get_for(self.request.user, int(pk))

    def _act(self, request, pk, service, **kwargs):
        tenant = self._tenant(pk)
        check_if_match(request, etag_of(s.TenantSerializer(tenant).data))
        service(tenant=tenant, actor=request.user, **kwargs)
        tenant.refresh_from_db()
        return _tenant_response(tenant, code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=Tenant.State.values),
            OpenApiParameter("plan", str, description="A plan's name."),
            OpenApiParameter("owner", str, description="Owner's user name (admins, auditors)."),
            OpenApiParameter("q", str, description="Part of the name, title or host."),
            OpenApiParameter("sort", str, enum=SORT_CHOICES),
        ]
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.TenantSerializer(page, many=True).data)

    @extend_schema(
        request=s.TenantRequestSerializer,
        responses={201: s.TenantSerializer, 400: REFUSED, 403: REFUSED},
    )
    def create(self, request):
        incoming = s.TenantRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        tenant = services.tenant_request_submit(owner=request.user, **incoming.validated_data)
        location = request.build_absolute_uri(f"{request.path}{tenant.pk}/")
        return _tenant_response(
            tenant, code=status.HTTP_201_CREATED, headers={"Location": location}
        )

    def retrieve(self, request, pk=None):
        tenant = self._tenant(pk)
        response = _tenant_response(tenant)
        if request.headers.get("If-None-Match") == response["ETag"]:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": response["ETag"]})
        return response

    @extend_schema(
        parameters=[ETAG_HEADER],
        description="Withdraws a request not yet decided, else tears the tenant down. If-Match "
        "is required: you delete the tenant as you last read it.",
        responses={202: s.TenantSerializer, 409: REFUSED, 412: REFUSED, 428: REFUSED},
    )
    def destroy(self, request, pk=None):
        tenant = self._tenant(pk)
        check_if_match(request, etag_of(s.TenantSerializer(tenant).data), required=True)
        services.tenant_delete(tenant=tenant, actor=request.user)
        tenant.refresh_from_db()
        return _tenant_response(tenant, code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        parameters=[ETAG_HEADER],
        responses={202: s.TenantSerializer, 409: REFUSED, 412: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Start a new run of a failed tenant (platform admins)."""
        return self._act(request, pk, services.tenant_retry)

    @extend_schema(
        request=None,
        parameters=[ETAG_HEADER],
        responses={202: s.TenantSerializer, 409: REFUSED, 412: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        """Converge a ready or failed tenant again (its owner or a platform admin)."""
        return self._act(request, pk, services.tenant_reconcile)

    @extend_schema(
        request=s.DecisionSerializer,
        parameters=[ETAG_HEADER],
        responses={202: s.TenantSerializer, 400: REFUSED, 403: REFUSED, 409: REFUSED, 412: REFUSED},
    )
    @action(
        detail=True, methods=["post"], permission_classes=[IsAuthenticated, ApproverOrAuditorReads]
    )
    def decide(self, request, pk=None):
        """Approve or reject a pending request (platform admins, never on their own)."""
        tenant = get_object_or_404(Tenant.objects.select_related("plan", "owner"), pk=pk)
        decision = s.DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        check_if_match(request, etag_of(s.TenantSerializer(tenant).data))
        if decision.validated_data["decision"] == "approve":
            tenant = services.tenant_approve(tenant_id=tenant.pk, actor=request.user)
        else:
            reason = decision.validated_data["reason"]
            tenant = services.tenant_reject(tenant_id=tenant.pk, actor=request.user, reason=reason)
        return _tenant_response(tenant, code=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=s.RunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        """The tenant's runs, newest first, each with its steps."""
        tenant = self._tenant(pk)
        page = self.paginate_queryset(tenant.runs.prefetch_related("steps"))
        return self.get_paginated_response(s.RunSerializer(page, many=True).data)

    @extend_schema(responses=s.AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        """The tenant's history from the audit trail, newest first (the detail page's)."""
        tenant = self._tenant(pk)
        notes = roles.sees_all_tenants(request.user)  # admins' notes are not the requester's
        page = self.paginate_queryset(selectors.tenant_history(tenant, admin_notes=notes))
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)


class PlanViewSet(viewsets.ReadOnlyModelViewSet):
    """The plans; inactive ones are no longer offered but may still be in use."""

    serializer_class = s.PlanSerializer
    queryset = Plan.objects.all()
    lookup_field = "name"
    pagination_class = None


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs (reconciles) of the tenants the caller may see, each with its steps."""

    lookup_value_regex = r"\d+"

    serializer_class = s.RunSerializer
    queryset = Run.objects.none()

    def get_queryset(self):
        visible = selectors.tenants_visible_to(self.request.user)
        qs = Run.objects.filter(tenant__in=visible).prefetch_related("steps")
        run_status = self.request.query_params.get("status", "").replace("\x00", "")
        return qs.filter(status=run_status) if run_status else qs

    def cursor_ordering(self, request):
        return ("-id",)

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Run.Status.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class ApprovalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Requests awaiting a decision, oldest first (the approval queue)."""

    lookup_value_regex = r"\d+"

    serializer_class = s.PendingRequestSerializer
    permission_classes = [IsAuthenticated, ApproverOrAuditorReads]

    def get_queryset(self):
        return selectors.pending_requests()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def cursor_ordering(self, request):
        return ("created_at", "id")

    @extend_schema(responses=s.ApprovalSerializer)
    def retrieve(self, request, pk=None):
        """One request as the approval screen shows it, with the cluster capacity hint."""
        tenant = get_object_or_404(Tenant.objects.select_related("plan", "owner"), pk=pk)
        context = {
            **self.get_serializer_context(),
            "capacity": plan_capacity_hint(tenant.plan),
        }
        data = s.ApprovalSerializer(tenant, context=context).data
        return Response(data, headers={"ETag": etag_of(s.TenantSerializer(tenant).data)})


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The whole audit trail, newest first (platform admins and auditors)."""

    lookup_value_regex = r"\d+"

    serializer_class = s.AuditEventSerializer
    permission_classes = [IsAuthenticated, SeesEverything]
    queryset = AuditEvent.objects.none()
    FILTERS = ("action", "object_type", "object_id", "request_id", "actor_name")

    def get_queryset(self):
        params = self.request.query_params
        wanted = {k: params[k].replace("\x00", "") for k in self.FILTERS if params.get(k)}
        return AuditEvent.objects.filter(**wanted)

    def cursor_ordering(self, request):
        return ("-id",)

    @extend_schema(parameters=[OpenApiParameter(k, str) for k in FILTERS])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
