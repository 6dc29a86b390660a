"""URLs of the tenant pages and the approval screens."""

from django.urls import path

from tenants.views import (
    approvals,
    backups,
    clones,
    comments,
    deletion,
    detail,
    filing,
    hosts,
    lifecycle,
    listing,
    members,
    plan,
)

app_name = "tenants"

urlpatterns = [
    path("", listing.TenantListView.as_view(), name="list"),
    path("new/", filing.TenantRequestView.as_view(), name="request"),
    path("<int:pk>/", detail.TenantDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", filing.TenantResubmitView.as_view(), name="resubmit"),
    path("<int:pk>/progress/", detail.TenantProgressView.as_view(), name="progress"),
    path("<int:pk>/retry/", lifecycle.TenantRetryView.as_view(), name="retry"),
    path("<int:pk>/reconcile/", lifecycle.TenantReconcileView.as_view(), name="reconcile"),
    path("<int:pk>/suspend/", lifecycle.TenantSuspendView.as_view(), name="suspend"),
    path("<int:pk>/resume/", lifecycle.TenantResumeView.as_view(), name="resume"),
    path("<int:pk>/plan/", plan.TenantPlanView.as_view(), name="plan"),
    path("<int:pk>/pipeline/", lifecycle.TenantPipelineView.as_view(), name="pipeline"),
    path("<int:pk>/upgrade/", lifecycle.TenantUpgradeView.as_view(), name="upgrade"),
    path("<int:pk>/backup/", backups.TenantBackupView.as_view(), name="backup"),
    path("<int:pk>/backups/", detail.TenantBackupsView.as_view(), name="backups"),
    path(
        "<int:pk>/backups/schedule/",
        backups.TenantBackupScheduleView.as_view(),
        name="backup_schedule",
    ),
    path(
        "<int:pk>/backups/<int:backup_pk>/restore/",
        backups.TenantRestoreView.as_view(),
        name="restore",
    ),
    path("<int:pk>/recreate/", deletion.TenantRecreateView.as_view(), name="recreate"),
    path("<int:pk>/clone/", clones.TenantCloneView.as_view(), name="clone"),
    path("<int:pk>/promote/", clones.TenantPromoteView.as_view(), name="promote"),
    path("<int:pk>/fill/", clones.TenantFillAgainView.as_view(), name="fill"),
    path("<int:pk>/keep/", deletion.TenantCancelDeletionView.as_view(), name="cancel_delete"),
    path("<int:pk>/delete/", deletion.TenantDeleteView.as_view(), name="delete"),
    path("<int:pk>/comments/", comments.TenantCommentView.as_view(), name="comment"),
    path("<int:pk>/members/", members.TenantMemberAddView.as_view(), name="member_add"),
    path(
        "<int:pk>/members/remove/",
        members.TenantMemberRemoveView.as_view(),
        name="member_remove",
    ),
    path("<int:pk>/hosts/", hosts.TenantHostAddView.as_view(), name="host_add"),
    path("<int:pk>/hosts/check/", hosts.TenantHostCheckView.as_view(), name="host_check"),
    path("<int:pk>/hosts/remove/", hosts.TenantHostRemoveView.as_view(), name="host_remove"),
    path("approvals/", approvals.ApprovalQueueView.as_view(), name="approvals"),
    path("approvals/<int:pk>/", approvals.ApprovalDetailView.as_view(), name="approval"),
]
