"""URLs of the tenant pages and the approval screens."""

from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("", views.TenantListView.as_view(), name="list"),
    path("new/", views.TenantRequestView.as_view(), name="request"),
    path("<int:pk>/", views.TenantDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.TenantResubmitView.as_view(), name="resubmit"),
    path("<int:pk>/progress/", views.TenantProgressView.as_view(), name="progress"),
    path("<int:pk>/retry/", views.TenantRetryView.as_view(), name="retry"),
    path("<int:pk>/reconcile/", views.TenantReconcileView.as_view(), name="reconcile"),
    path("<int:pk>/suspend/", views.TenantSuspendView.as_view(), name="suspend"),
    path("<int:pk>/resume/", views.TenantResumeView.as_view(), name="resume"),
    path("<int:pk>/plan/", views.TenantPlanView.as_view(), name="plan"),
    path("<int:pk>/pipeline/", views.TenantPipelineView.as_view(), name="pipeline"),
    path("<int:pk>/upgrade/", views.TenantUpgradeView.as_view(), name="upgrade"),
    path("<int:pk>/backup/", views.TenantBackupView.as_view(), name="backup"),
    path("<int:pk>/backups/", views.TenantBackupsView.as_view(), name="backups"),
    path(
        "<int:pk>/backups/schedule/",
        views.TenantBackupScheduleView.as_view(),
        name="backup_schedule",
    ),
    path(
        "<int:pk>/backups/<int:backup_pk>/restore/",
        views.TenantRestoreView.as_view(),
        name="restore",
    ),
    path("<int:pk>/recreate/", views.TenantRecreateView.as_view(), name="recreate"),
    path("<int:pk>/clone/", views.TenantCloneView.as_view(), name="clone"),
    path("<int:pk>/promote/", views.TenantPromoteView.as_view(), name="promote"),
    path("<int:pk>/fill/", views.TenantFillAgainView.as_view(), name="fill"),
    path("<int:pk>/keep/", views.TenantCancelDeletionView.as_view(), name="cancel_delete"),
    path("<int:pk>/delete/", views.TenantDeleteView.as_view(), name="delete"),
    path("<int:pk>/comments/", views.TenantCommentView.as_view(), name="comment"),
    path("<int:pk>/members/", views.TenantMemberAddView.as_view(), name="member_add"),
    path("<int:pk>/members/remove/", views.TenantMemberRemoveView.as_view(), name="member_remove"),
    path("<int:pk>/hosts/", views.TenantHostAddView.as_view(), name="host_add"),
    path("<int:pk>/hosts/check/", views.TenantHostCheckView.as_view(), name="host_check"),
    path("<int:pk>/hosts/remove/", views.TenantHostRemoveView.as_view(), name="host_remove"),
    path("approvals/", views.ApprovalQueueView.as_view(), name="approvals"),
    path("approvals/<int:pk>/", views.ApprovalDetailView.as_view(), name="approval"),
]
