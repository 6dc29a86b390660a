"""IONOS Cloud DNS through the official ionoscloud-dns SDK: the A records of tenant hosts."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ionoscloud_dns
import urllib3
from django.conf import settings
from ionoscloud_dns.exceptions import ApiException, OpenApiException
from ionoscloud_dns.models import Record, RecordCreate, RecordEnsure, RecordType

from provisioning.drivers.ionos import api_words, status_error
from provisioning.errors import StepFailed, TransientError

PAGE = 1000  # the most records one GET /records returns


@dataclass(frozen=True)
class DnsRecord:
    id: str
    name: str
    content: str
    ttl: int


@contextmanager
def translated(what: str) -> Iterator[None]:
    """The SDK's errors as the engine's two kinds, in IONOS's words, never with the token."""

    def clean(text: str) -> str:
        token = settings.PORTAL_IONOS_TOKEN
        return text.replace(token, "<redacted>") if token else text

    try:
        yield
    except ApiException as exc:
        status = exc.status or 0
        # The DNS SDK's errors carry the same body ({"httpStatus", "messages"}) as the v6 API's.
        text = clean(f"the IONOS DNS API answered {status} for {what}: {api_words(exc)}")
        raise status_error(status, text) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise TransientError(
            f"the IONOS DNS API could not be reached for {what} ({exc.__class__.__name__})"
        ) from None
    except OpenApiException as exc:
        raise StepFailed(clean(f"the IONOS DNS SDK refused to {what}: {exc}")) from None


class IonosDns:
    """The A records of one zone, by name (relative to the zone, as the API keeps them)."""

    def __init__(self, *, url: str, token: str, zone_id: str, timeout: float = 15.0):
        configuration = ionoscloud_dns.Configuration(host=url, token=token)
        # The engine retries with backoff; the SDK must not sleep and retry on its own.
        configuration.max_retries = 1
        configuration.retries = False
        self.client = ionoscloud_dns.ApiClient(configuration)
        self.records_api = ionoscloud_dns.RecordsApi(self.client)
        self.zones_api = ionoscloud_dns.ZonesApi(self.client)
        self.zone_id = zone_id
        self.timeout = (min(5.0, timeout), timeout)
        self._zone_name: str | None = None

    @classmethod
    def from_settings(cls) -> "IonosDns | None":
        if not (settings.PORTAL_IONOS_TOKEN and settings.PORTAL_IONOS_DNS_ZONE_ID):
            return None
        return cls(
            url=settings.PORTAL_IONOS_DNS_URL,
            token=settings.PORTAL_IONOS_TOKEN,
            zone_id=settings.PORTAL_IONOS_DNS_ZONE_ID,
            timeout=float(settings.PORTAL_IONOS_TIMEOUT),
        )

    def zone_name(self) -> str:
        if self._zone_name is None:
            with translated(f"reading zone {self.zone_id}"):
                zone = self.zones_api.zones_find_by_id(self.zone_id, _request_timeout=self.timeout)
            self._zone_name = zone.properties.zone_name.rstrip(".").lower()
        return self._zone_name

    def relative_name(self, host: str) -> str | None:
        """The record name of `host` in the zone; None when the host is outside it."""
        zone, host = self.zone_name(), host.rstrip(".").lower()
        if host == zone:
            return "@"
        return host.removesuffix(f".{zone}") if host.endswith(f".{zone}") else None

    def a_records(self, name: str) -> list[DnsRecord]:
        found, offset = [], 0
        while True:
            with translated(f"listing the A records named {name!r}"):
                page = self.records_api.records_get(
                    filter_zone_id=self.zone_id, filter_name=name, filter_type=RecordType.A,
                    offset=offset, limit=PAGE, _request_timeout=self.timeout,
                )  # fmt: skip
            items = page.items or []
            # filter.name matches names that contain it: keep the record of exactly this name.
            found += [
                DnsRecord(r.id, r.properties.name, r.properties.content, r.properties.ttl)
                for r in items
                if r.properties.name == name and r.properties.type == RecordType.A
            ]
            if len(items) < PAGE:
                return found
            offset += PAGE

    def _record(self, name: str, address: str, ttl: int) -> Record:
        return Record(name=name, type=RecordType.A, content=address, ttl=ttl, enabled=True)

    def create(self, name: str, address: str, ttl: int) -> DnsRecord:
        with translated(f"creating the A record {name!r}"):
            made = self.records_api.zones_records_post(
                self.zone_id, RecordCreate(properties=self._record(name, address, ttl)),
                _request_timeout=self.timeout,
            )  # fmt: skip
        return DnsRecord(made.id, name, address, ttl)

    def update(self, record_id: str, name: str, address: str, ttl: int) -> None:
        with translated(f"updating the A record {name!r}"):
            self.records_api.zones_records_put(
                self.zone_id, record_id, RecordEnsure(properties=self._record(name, address, ttl)),
                _request_timeout=self.timeout,
            )  # fmt: skip

    def delete(self, record_id: str) -> bool:
        """False when the record was already gone."""
        with translated(f"deleting the record {record_id}"):
            try:
                self.records_api.zones_records_delete(
                    self.zone_id, record_id, _request_timeout=self.timeout
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
                return False
        return True
