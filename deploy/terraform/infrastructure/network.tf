# The datacenter, the private LAN the nodes and the databases share, and the LoadBalancer's IP.

resource "ionoscloud_datacenter" "platform" {
  name                = "${var.environment}-platform"
  location            = var.location
  description         = "WordPress platform (${var.environment}): Managed Kubernetes nodes and DBaaS"
  sec_auth_protection = false
}

# Private: the databases are reachable only from the nodes on this LAN, never from outside.
resource "ionoscloud_lan" "private" {
  datacenter_id = ionoscloud_datacenter.platform.id
  name          = "${var.environment}-private"
  public        = false
}

# The LoadBalancer IP of ingress-nginx: reserved apart from the cluster, so it survives a
# re-created Service and the tenants' DNS records keep pointing at it.
resource "ionoscloud_ipblock" "ingress" {
  name     = "${var.environment}-ingress"
  location = var.location
  size     = 1
}

locals {
  # The LAN's block is assigned by IONOS (a /23 from 10.0.0.0/8); the databases take fixed
  # addresses at its top, far from the nodes' DHCP leases at its bottom.
  lan_block    = ionoscloud_lan.private.ipv4_cidr_block
  lan_prefix   = split("/", local.lan_block)[1]
  postgres_ip  = cidrhost(local.lan_block, -10)
  mariadb_ip   = cidrhost(local.lan_block, -11)
  postgres_net = "${local.postgres_ip}/${local.lan_prefix}"
  mariadb_net  = "${local.mariadb_ip}/${local.lan_prefix}"
}
