"""Property tests from the OpenAPI schema (schemathesis): every operation, generated input, an
approver's token; no answer is a server error and each fits what the schema says."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.tokens import token_create
from tests.factories import TenantFactory

# Enough to reach each operation's branches, few enough for a fast suite (bench/ measures more).
EXAMPLES = 10


@pytest.fixture
def api_schema(client, approver):
    client.force_login(approver)
    document = client.get(reverse("api:schema"), {"format": "json"}).json()
    client.logout()
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    # As Django's test client does: the end of a request must not close the test's
    # connection (and its transaction), at its start or its end.
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield loaded
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def test_every_operation_holds_to_the_schema(api_schema, approver, requester):
    TenantFactory(owner=requester)
    _, plain = token_create(user=approver, name="schemathesis", days=1)
    headers = {"Authorization": f"Bearer {plain}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 10

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case):
            # Not positive_data_acceptance: which plans and versions exist is data, not schema,
            # so a schema-valid request may rightly be refused (400, in the page's words).
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()
