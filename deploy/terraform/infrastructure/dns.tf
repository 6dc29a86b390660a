# The zone of the tenants' hosts. The portal adds a record per tenant host pointing at the
# ingress IP; the platform's own hosts are written here.

resource "ionoscloud_dns_zone" "platform" {
  name        = var.dns_zone
  description = "WordPress platform (${var.environment}): tenants' and platform hosts"
  enabled     = true
}

resource "ionoscloud_dns_record" "platform" {
  for_each = toset(["portal", "authentik", "grafana"])

  zone_id = ionoscloud_dns_zone.platform.id
  name    = each.key
  type    = "A"
  content = ionoscloud_ipblock.ingress.ips[0]
  ttl     = 3600
  enabled = true
}
