"""The DNS step: an A record for the tenant's host in the platform's IONOS Cloud DNS zone."""

from django.conf import settings

from provisioning.drivers.ionosdns import IonosDns
from provisioning.errors import StepFailed
from provisioning.steps.base import Looked, Outcome, Step


class DnsStep(Step):
    """Owns the A record named after the tenant's host, pointing at the platform's
    LoadBalancer. Runs before WordPress, so the host resolves when cert-manager asks for the
    certificate of its ingress. A host outside the zone (a custom domain) is the tenant's to
    point: the step says where and leaves it alone."""

    name = "dns"
    title = "DNS record"
    plan_suffix = "txt"

    def make_driver(self) -> IonosDns | None:
        return IonosDns.from_settings()

    @property
    def address(self) -> str:
        if not settings.PORTAL_IONOS_DNS_TARGET:
            raise StepFailed(
                "PORTAL_IONOS_DNS_TARGET is unset: set it to the platform's LoadBalancer IP "
                "(Terraform output ingress_ip) for tenant hosts to point at."
            )
        return settings.PORTAL_IONOS_DNS_TARGET

    @property
    def ttl(self) -> int:
        return int(settings.PORTAL_IONOS_DNS_TTL)

    def render(self) -> str:
        target = settings.PORTAL_IONOS_DNS_TARGET or "<PORTAL_IONOS_DNS_TARGET>"
        return f"{self.spec.host}. {self.ttl} IN A {target}\n"

    def _name(self) -> str | None:
        name = self.driver.relative_name(self.spec.host)
        if name is None:
            self.ctx.log(
                f"{self.spec.host} is outside the zone {self.driver.zone_name()}: its owner "
                f"points it at {settings.PORTAL_IONOS_DNS_TARGET or 'the LoadBalancer IP'}"
            )
        return name

    def live_check(self) -> list[str]:
        name = self._name()
        if name is None:
            return []
        records = self.driver.a_records(name)
        if not records:
            return [f"no A record for {self.spec.host}"]
        problems = [
            f"A record {self.spec.host} points at {r.content}, not {self.address}"
            for r in records
            if r.content != self.address or r.ttl != self.ttl
        ]
        if len(records) > 1:
            problems.append(f"{len(records)} A records for {self.spec.host}, not one")
        return problems

    def live_apply(self) -> Outcome:
        name = self._name()
        if name is None:
            return Outcome.done(f"{self.spec.host} is outside the platform's zone; not managed")
        first, *extra = self.driver.a_records(name) or [None]
        if first is None:
            self.driver.create(name, self.address, self.ttl)
            return Outcome.done(f"A record {self.spec.host} → {self.address} created")
        for record in extra:  # one record per host: a second answer would split the traffic
            self.driver.delete(record.id)
        if first.content != self.address or first.ttl != self.ttl:
            self.driver.update(first.id, name, self.address, self.ttl)
            return Outcome.done(f"A record {self.spec.host} → {self.address} put back")
        return Outcome.done(f"A record {self.spec.host} → {self.address}")

    def live_destroy(self) -> Outcome:
        name = self._name()
        if name is None:
            return Outcome.done(f"{self.spec.host} is outside the platform's zone; nothing to do")
        removed = sum(self.driver.delete(r.id) for r in self.driver.a_records(name))
        return Outcome.done(f"A record {self.spec.host} removed" if removed else "already gone")

    def live_gone(self) -> list[Looked]:
        name = self._name()
        if name is None:
            return []  # a custom domain's record is its owner's: none was removed
        left = self.driver.a_records(name)
        found = ", ".join(f"{r.content} (id {r.id})" for r in left)
        return [Looked(f"DNS A record {self.spec.host}", f"A record → {found}" if left else "")]
