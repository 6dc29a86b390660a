"""The Job that moves a tenant's wp-content between its volume and a backup in S3."""

from provisioning import secrets as keys
from provisioning.manifests.common import labels, meta
from provisioning.manifests.namespace import SERVICE_ACCOUNT
from provisioning.manifests.wordpress import (
    CONTAINER_SECURITY,
    content_volume,
    image,
    pod_security,
    resources,
    same_node_as_web,
)
from provisioning.spec import TenantSpec

COMPONENT_FILES = "files"
CONTENT = "/var/www/html/wp-content"
WORK = "/work"
# A volume's lost+found belongs to root: neither archived nor removed.
_SSE = '[ -z "${SSE:-}" ] || set -- -H "x-amz-server-side-encryption: $SSE"'
BACKUP_SCRIPT = f"""\
set -eu
cd "$CONTENT_DIR"
# Exit 1 is GNU tar's "a file changed as it was read": a live site's cache; the rest is whole.
tar --exclude=./lost+found -czf "$WORK_DIR/files.tar.gz" . || [ $? -eq 1 ]
sha256sum "$WORK_DIR/files.tar.gz" | cut -d' ' -f1 > "$WORK_DIR/files.sha256"
{_SSE}
curl -fsS --retry 3 -X PUT "$@" -T "$WORK_DIR/files.tar.gz" "$ARCHIVE_URL"
curl -fsS --retry 3 -X PUT "$@" -T "$WORK_DIR/files.sha256" "$CHECKSUM_URL"
echo "archived $(wc -c < "$WORK_DIR/files.tar.gz") bytes"
"""
RESTORE_SCRIPT = """\
set -eu
curl -fsS --retry 3 -o "$WORK_DIR/files.tar.gz" "$ARCHIVE_URL"
echo "$ARCHIVE_SHA256  $WORK_DIR/files.tar.gz" | sha256sum -c -
find "$CONTENT_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
tar -xzf "$WORK_DIR/files.tar.gz" -C "$CONTENT_DIR" --no-same-owner
echo "restored $(find "$CONTENT_DIR" -type f | wc -l) files"
"""
SCRIPTS = {"backup": BACKUP_SCRIPT, "restore": RESTORE_SCRIPT}


def files_job(
    spec: TenantSpec,
    name: str,
    action: str,
    secret_env: dict[str, str],
    plain: dict[str, str],
    deadline: int,
) -> dict:
    """`secret_env`: variable -> key of the tenant's Secret (the signed addresses); `plain`:
    variable -> value (a checksum, the encryption the signed upload wants)."""
    env = [
        {"name": "CONTENT_DIR", "value": CONTENT},
        {"name": "WORK_DIR", "value": WORK},
        *({"name": var, "value": value} for var, value in plain.items()),
        *(
            {"name": var, "valueFrom": {"secretKeyRef": {"name": keys.SECRET_NAME, "key": key}}}
            for var, key in secret_env.items()
        ),
    ]
    pod = {
        "restartPolicy": "Never",
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "securityContext": {k: v for k, v in pod_security().items() if k != "sysctls"},
        "containers": [
            {
                "name": action,
                # The site's own image: curl, tar and sha256sum are in it.
                "image": image(spec),
                "command": ["sh", "-c", SCRIPTS[action]],
                "env": env,
                "resources": resources(spec),
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [
                    {"name": "content", "mountPath": CONTENT, "readOnly": action == "backup"},
                    {"name": "work", "mountPath": WORK},
                ],
            }
        ],
        "volumes": [content_volume(), {"name": "work", "emptyDir": {}}],
    }
    # A suspended site has no pods to go beside: its volume mounts wherever the Job runs.
    affinity = None if spec.suspended else same_node_as_web(spec)
    if affinity:
        pod["affinity"] = affinity
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(spec, name, COMPONENT_FILES),
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": deadline,
            "template": {"metadata": {"labels": labels(spec, COMPONENT_FILES)}, "spec": pod},
        },
    }
