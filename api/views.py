"""The API's endpoints: thin views over tenants.selectors and tenants.services."""

from django.db.models import F
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api import filters
from api import serializers as s
from api.etags import check_if_match, etag_of
from api.permissions import ActorOrReadOnly, ApproverOrAuditorReads, SeesEverything
from portal import ratelimit, roles
from provisioning.capacity import plan_capacity_hint
from provisioning.models import Run
from tenants import (
    backups,
    backupschedule,
    clone,
    customhosts,
    deletion,
    plan_change,
    promote,
    recreate,
    selectors,
    services,
    suspension,
    upgrade,
)
from tenants.models import AuditEvent, Plan, Tenant

# The list page's `sort` names (tenants.selectors.LIST_SORTS), on fields a cursor can hold.
SORTS = {
    "name": "slug",
    "state": "state",
    "plan": "plan_order",
    "created": "created_at",
    "owner": "owner_name",
}

ETAG_HEADER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The tenant's ETag as last read; 412 if it changed since.",
)
RESTORE_NEEDS_ETAG = (
    "Send If-Match with the tenant's ETag (from reading it), so you restore over what you saw."
)
REFUSED = OpenApiResponse(description="Refused, with the page's sentence in `detail`.")


def _acts(incoming=None, *, refusals=(), **more):
    """The schema of a POST action on a tenant: its input, If-Match, the tenant back (202)."""
    codes = (409, 412, 429, *refusals, *((400,) if incoming is not None else ()))
    responses = {202: s.TenantDetailSerializer, **dict.fromkeys(sorted(codes), REFUSED)}
    return extend_schema(request=incoming, parameters=[ETAG_HEADER], responses=responses, **more)


def _tenant_response(tenant: Tenant, *, code: int = status.HTTP_200_OK, headers=None):
    data = s.TenantDetailSerializer(tenant).data
    return Response(data, status=code, headers={"ETag": etag_of(data), **(headers or {})})


class TenantViewSet(viewsets.GenericViewSet):
    """Tenants the caller may see: all for platform admins and auditors, else their own."""

    lookup_value_regex = r"\d+"

    serializer_class = s.TenantSerializer
    permission_classes = [IsAuthenticated, ActorOrReadOnly]
    queryset = Tenant.objects.none()  # for the schema; every call reads through the selectors

    def get_queryset(self):
        wanted = filters.read(filters.TenantListParams, self.request)
        self.sort = wanted.pop("sort")
        return selectors.tenant_list(user=self.request.user, **wanted).annotate(
            plan_order=F("plan__sort_order"), owner_name=F("owner__username")
        )

    def cursor_ordering(self, request):
        if self.action != "list":  # the tenant's runs, events and backups: newest first
            return ("-id",)
        if not self.sort:  # checked, as the list's other parameters, by get_queryset
            return ("-created_at", "-id")
        field = SORTS[self.sort.removeprefix("-")]
        return (f"-{field}" if self.sort.startswith("-") else field, "-id")

    def _tenant(self, pk) -> Tenant:
        return selectors.tenant_get_for(self.request.user, int(pk))

    def _act(self, request, pk, service, *, incoming=None, required=False, **kwargs):
        """Call the page's service on a tenant the caller sees: the input checked first (400
        naming the field), then If-Match (412; 428 when `required` and missing), then the
        pages' action limit (429)."""
        tenant = self._tenant(pk)
        if incoming is not None:
            given = incoming(data=request.data, context={"tenant": tenant})
            given.is_valid(raise_exception=True)
            kwargs |= given.validated_data
        check_if_match(request, etag_of(s.TenantDetailSerializer(tenant).data), required=required)
        ratelimit.limit_actions(request.user)  # the pages' limit: a script gets no more changes
        service(tenant=tenant, actor=request.user, **kwargs)
        tenant.refresh_from_db()
        return _tenant_response(tenant, code=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[filters.TenantListParams])
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.TenantSerializer(page, many=True).data)

    @extend_schema(
        request=s.TenantRequestSerializer,
        responses={201: s.TenantDetailSerializer, 400: REFUSED, 403: REFUSED, 429: REFUSED},
    )
    def create(self, request):
        incoming = s.TenantRequestSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        ratelimit.limit_actions(request.user)  # the request page's two limits, in its order
        ratelimit.limit_filing(request.user)
        tenant = services.tenant_request_submit(owner=request.user, **incoming.validated_data)
        location = request.build_absolute_uri(f"{request.path}{tenant.pk}/")
        return _tenant_response(
            tenant, code=status.HTTP_201_CREATED, headers={"Location": location}
        )

    @extend_schema(responses=s.TenantDetailSerializer)
    def retrieve(self, request, pk=None):
        tenant = self._tenant(pk)
        response = _tenant_response(tenant)
        if request.headers.get("If-None-Match") == response["ETag"]:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": response["ETag"]})
        return response

    @extend_schema(
        parameters=[ETAG_HEADER],
        description="Withdraws a request not yet decided, else suspends the tenant for the "
        "grace period, after which a final backup is taken and then it is torn "
        "down; with no grace period it is due at once. If-Match "
        "is required: you delete the tenant as you last read it.",
        responses={
            202: s.TenantDetailSerializer,
            **dict.fromkeys((409, 412, 428, 429), REFUSED),
        },
    )
    def destroy(self, request, pk=None):
        tenant = self._tenant(pk)
        check_if_match(request, etag_of(s.TenantDetailSerializer(tenant).data), required=True)
        ratelimit.limit_actions(request.user)
        services.tenant_delete(tenant=tenant, actor=request.user)
        tenant.refresh_from_db()
        return _tenant_response(tenant, code=status.HTTP_202_ACCEPTED)

    @_acts()
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Start a new run of a failed tenant, or at once of one waiting for an outside system
        (`waiting`), rather than when the portal would try again (platform admins)."""
        return self._act(request, pk, services.tenant_retry)

    @_acts()
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        """Converge a ready or failed tenant again (its owner or a platform admin)."""
        return self._act(request, pk, services.tenant_reconcile)

    @_acts(s.DecisionSerializer, refusals=(403,))
    @action(
        detail=True, methods=["post"], permission_classes=[IsAuthenticated, ApproverOrAuditorReads]
    )
    def decide(self, request, pk=None):
        """Approve or reject a pending request (platform admins, never on their own)."""
        tenant = get_object_or_404(Tenant.objects.select_related("plan", "owner"), pk=pk)
        decision = s.DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        check_if_match(request, etag_of(s.TenantDetailSerializer(tenant).data))
        ratelimit.limit_actions(request.user)
        if decision.validated_data["decision"] == "approve":
            tenant = services.tenant_approve(tenant_id=tenant.pk, actor=request.user)
        else:
            reason = decision.validated_data["reason"]
            tenant = services.tenant_reject(tenant_id=tenant.pk, actor=request.user, reason=reason)
        return _tenant_response(tenant, code=status.HTTP_202_ACCEPTED)

    @_acts(s.SuspendSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Scale the site to zero behind a notice (its owner, or a platform admin saying why)."""
        return self._act(request, pk, suspension.tenant_suspend, incoming=s.SuspendSerializer)

    @_acts()
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Bring a suspended site back (an admin's suspension only an admin lifts)."""
        return self._act(request, pk, suspension.tenant_resume)

    @_acts(
        s.PlanChangeSerializer,
        description="A smaller plan applies at once; a larger one an admin applies (if the "
        "cluster has room). Asked for by the owner, the next larger plan applies at once when "
        "the usage rule is met, else it waits for an admin's decision; `plan_rule` in the answer "
        "says which, and why.",
    )
    @action(detail=True, methods=["post"])
    def plan(self, request, pk=None):
        """Move the tenant to another plan (its owner or a platform admin), or decline the
        owner's request for a larger one (platform admins), as the plan page does."""
        if isinstance(request.data, dict) and request.data.get("decision") == "decline":
            return self._act(request, pk, plan_change.tenant_plan_request_decline)
        return self._act(
            request, pk, plan_change.tenant_change_plan, incoming=s.PlanChangeSerializer
        )

    @_acts(s.UpgradeSerializer)
    @action(detail=True, methods=["post"])
    def upgrade(self, request, pk=None):
        """Move the site to a newer WordPress, a backup first; a version that fails rolls back."""
        return self._act(request, pk, upgrade.tenant_upgrade, incoming=s.UpgradeSerializer)

    @_acts()
    @action(detail=True, methods=["post"])
    def backup(self, request, pk=None):
        """Start a backup of the tenant's database and media; see it in backups/."""
        return self._act(request, pk, backups.backup_request)

    @_acts(
        s.BackupScheduleSerializer,
        description="Off only where the plan promises no RPO; a schedule further apart than "
        "the plan's RPO is refused (409), as on the page.",
    )
    @action(detail=True, methods=["post"], url_path="backup-schedule")
    def backup_schedule(self, request, pk=None):
        """Choose how often the tenant is backed up, and at which hour (UTC), as its page does."""
        return self._act(
            request,
            pk,
            backupschedule.tenant_backup_schedule_set,
            incoming=s.BackupScheduleSerializer,
        )

    @_acts(
        s.RestoreSerializer,
        refusals=(428,),
        description="Overwrites the site with the backup (a safety backup first). If-Match is "
        "required: you restore over the tenant as you last read it.",
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Restore one of the tenant's backups, the tenant's name typed as on the page."""
        return self._act(
            request,
            pk,
            backups.backup_restore_request,
            incoming=s.RestoreSerializer,
            required=RESTORE_NEEDS_ETAG,
        )

    @_acts()
    @action(detail=True, methods=["post"])
    def recreate(self, request, pk=None):
        """Build a deleted tenant again and restore its final backup into it (platform admins,
        while its plan's retention keeps that backup)."""
        return self._act(request, pk, recreate.tenant_recreate)

    @_acts(s.HostNameSerializer)
    @action(detail=True, methods=["post"], url_path="hosts")
    def host_add(self, request, pk=None):
        """Add a custom host name; it is served once its DNS TXT record (in `hosts`) is found."""
        return self._act(request, pk, customhosts.host_add, incoming=s.HostNameSerializer)

    @_acts(
        s.HostNameSerializer,
        description="Looks up the host's TXT record. Found with the value shown, the host is "
        "proven and a run serves it; not found, `hosts` says why (check_result).",
    )
    @action(detail=True, methods=["post"], url_path="hosts/check")
    def host_check(self, request, pk=None):
        """Check a custom host's DNS TXT proof now."""
        return self._act(request, pk, customhosts.host_check, incoming=s.HostNameSerializer)

    @_acts(s.HostNameSerializer)
    @action(detail=True, methods=["post"], url_path="hosts/remove")
    def host_remove(self, request, pk=None):
        """Stop serving a custom host name (not the site's own address)."""
        return self._act(request, pk, customhosts.host_remove, incoming=s.HostNameSerializer)

    @extend_schema(
        request=s.CloneSerializer,
        parameters=[ETAG_HEADER],
        responses={201: s.TenantDetailSerializer, **dict.fromkeys((400, 409, 412, 429), REFUSED)},
        description="Requests a new tenant (a staging site) on the original's plan and version, "
        "owned by its owner: like any request it waits for a platform admin's approval, and "
        "once built it is filled from the backup. Answers 201 with the clone.",
    )
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        """Clone the tenant to a new one, as the clone page does (the same limits)."""
        source = self._tenant(pk)
        given = s.CloneSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        check_if_match(request, etag_of(s.TenantDetailSerializer(source).data))
        ratelimit.limit_actions(request.user)
        ratelimit.limit_filing(request.user)  # a clone is a new tenant
        made = clone.tenant_clone(source=source, actor=request.user, **given.validated_data)
        location = request.build_absolute_uri(reverse("api:tenant-detail", args=[made.pk]))
        return _tenant_response(made, code=status.HTTP_201_CREATED, headers={"Location": location})

    @_acts(
        s.PromoteSerializer,
        refusals=(428,),
        description="On a clone: overwrites its original with the clone's content (a backup of "
        "each first). If-Match is required: you promote the clone as you last read it.",
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Put a clone's content into its original, the original's name typed as on the page."""
        return self._act(
            request,
            pk,
            promote.tenant_promote,
            incoming=s.PromoteSerializer,
            required="Send If-Match with the clone's ETag (from reading it), so you promote "
            "what you saw.",
        )

    @_acts()
    @action(detail=True, methods=["post"], url_path="cancel-delete")
    def cancel_delete(self, request, pk=None):
        """Keep a tenant whose deletion waits out its grace period."""
        return self._act(request, pk, deletion.tenant_cancel_deletion)

    @extend_schema(responses=s.BackupSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="backups")
    def backups(self, request, pk=None):
        """The tenant's backups, newest first, as its page lists them."""
        tenant = self._tenant(pk)
        page = self.paginate_queryset(tenant.backups.all())
        return self.get_paginated_response(s.BackupSerializer(page, many=True).data)

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
        run_status = filters.read(filters.RunListParams, self.request)["status"]
        return qs.filter(status=run_status) if run_status else qs

    def cursor_ordering(self, request):
        return ("-id",)

    @extend_schema(parameters=[filters.RunListParams])
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
        return Response(data, headers={"ETag": etag_of(s.TenantDetailSerializer(tenant).data)})


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The whole audit trail, newest first (platform admins and auditors)."""

    lookup_value_regex = r"\d+"

    serializer_class = s.AuditEventSerializer
    permission_classes = [IsAuthenticated, SeesEverything]
    queryset = AuditEvent.objects.none()

    def get_queryset(self):
        given = filters.read(filters.AuditEventListParams, self.request)
        return AuditEvent.objects.filter(**{k: v for k, v in given.items() if v})

    def cursor_ordering(self, request):
        return ("-id",)

    @extend_schema(parameters=[filters.AuditEventListParams])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
