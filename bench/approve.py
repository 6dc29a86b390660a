"""`python -m bench.approve PREFIX APPROVER`: the throughput bench's approver, approving every
requested tenant whose slug starts with PREFIX at once, queueing on the broker it is given."""

import os
import sys
import time


def main(argv: list[str]) -> int:
    prefix, approver_name = argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from tenants import services
    from tenants.models import Tenant

    approver = get_user_model().objects.get(username=approver_name)
    pending = Tenant.objects.filter(slug__startswith=prefix, state=Tenant.State.REQUESTED)
    ids = list(pending.order_by("pk").values_list("pk", flat=True))
    print(time.time(), flush=True)  # the clock starts with the first approval
    for tenant_id in ids:
        services.tenant_approve(tenant_id=tenant_id, actor=approver)  # queues on commit
    print(time.time(), len(ids), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
