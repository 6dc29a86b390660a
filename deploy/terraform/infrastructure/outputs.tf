# What the platform and the portal take from the infrastructure. deploy/README.md maps each
# portal setting to the output it comes from; the platform root reads portal_config and
# portal_secrets from this state and writes them into the platform's secret store.

locals {
  postgres_host  = ionoscloud_pg_cluster.platform.dns_name
  mariadb_host   = ionoscloud_mariadb_cluster.tenants.dns_name
  s3_endpoint    = "https://s3.${var.s3_region}.ionoscloud.com"
  portal_host    = "portal.${var.dns_zone}"
  authentik_host = "authentik.${var.dns_zone}"
  # The endpoints' addresses as IONOS gives them for reaching Object Storage through a private
  # NLB ("Following is the example of IP address values obtained for the endpoints", How-Tos,
  # docs.ionos.com/cloud/storage-and-backup/ionos-object-storage): check them with
  # `dig +short s3.<region>.ionoscloud.com` and set s3_egress_cidrs when they differ, else the
  # tenants' media uploads time out.
  s3_endpoint_ips = {
    "eu-central-1" = "81.173.115.249"
    "eu-central-2" = "85.215.240.253"
    "eu-central-3" = "85.215.142.30"
    "eu-south-2"   = "93.93.114.231"
  }
  s3_endpoint_ip  = lookup(local.s3_endpoint_ips, var.s3_region, "")
  s3_egress_cidrs = length(var.s3_egress_cidrs) > 0 ? var.s3_egress_cidrs : ["${local.s3_endpoint_ip}/32"]
}

output "k8s_cluster_id" {
  description = "Managed Kubernetes cluster (PORTAL_IONOS_CLUSTER_ID; the platform root's kubeconfig)."
  value       = ionoscloud_k8s_cluster.platform.id
}

output "k8s_node_pool_id" {
  description = "The cluster's autoscaling node pool."
  value       = ionoscloud_k8s_node_pool.platform.id
}

output "datacenter_id" {
  description = "The platform's datacenter."
  value       = ionoscloud_datacenter.platform.id
}

output "ingress_ip" {
  description = "Reserved public IP of ingress-nginx's LoadBalancer Service; every platform and tenant host points at it."
  value       = ionoscloud_ipblock.ingress.ips[0]
}

output "dns_zone_id" {
  description = "IONOS Cloud DNS zone of the tenants' hosts."
  value       = ionoscloud_dns_zone.platform.id
}

output "dns_zone_name" {
  description = "Name of that zone."
  value       = ionoscloud_dns_zone.platform.name
}

output "postgres_host" {
  description = "DNS name of the DBaaS PostgreSQL cluster (private LAN only, TLS)."
  value       = local.postgres_host
}

output "mariadb_host" {
  description = "DNS name of the DBaaS MariaDB cluster (private LAN only, TLS)."
  value       = local.mariadb_host
}

output "mariadb_cidr" {
  description = "The MariaDB cluster's address as a /32, the only database address tenants may reach."
  value       = "${local.mariadb_ip}/32"
}

output "s3_endpoint" {
  description = "IONOS Object Storage endpoint of the platform bucket's region."
  value       = local.s3_endpoint
}

output "media_bucket" {
  description = "The platform bucket."
  value       = ionoscloud_s3_bucket.media.name
}

output "authentik_postgres" {
  description = "Authentik's PostgreSQL connection: host, database, user, password."
  sensitive   = true
  value = {
    host     = local.postgres_host
    port     = "5432"
    name     = ionoscloud_pg_database.authentik.name
    user     = ionoscloud_pg_user.authentik.username
    password = random_password.postgres_authentik.result
  }
}

# Settings of the portal that follow from the infrastructure and are not secret: the portal's
# overlay ConfigMap (portal-config) takes them.
output "portal_config" {
  description = "The portal's non-secret settings from the infrastructure, by setting name."
  precondition {
    condition     = length(var.s3_egress_cidrs) > 0 || local.s3_endpoint_ip != ""
    error_message = "No known address for the Object Storage endpoint of ${var.s3_region}: set s3_egress_cidrs to its addresses (dig +short s3.${var.s3_region}.ionoscloud.com), which the tenants may connect to."
  }
  value = {
    PORTAL_IONOS_CLUSTER_ID         = ionoscloud_k8s_cluster.platform.id
    PORTAL_S3_CREDENTIALS           = "ionos" # IONOS Object Storage has no IAM
    PORTAL_S3_ENDPOINT_URL          = local.s3_endpoint
    PORTAL_S3_REGION                = var.s3_region
    PORTAL_S3_BUCKET                = ionoscloud_s3_bucket.media.name
    PORTAL_IONOS_TENANT_USER_DOMAIN = var.dns_zone
    PORTAL_TENANT_HOST_PATTERN      = "wordpress-{slug}.${var.dns_zone}"
    PORTAL_IONOS_DNS_ZONE_ID        = ionoscloud_dns_zone.platform.id
    PORTAL_IONOS_DNS_TARGET         = ionoscloud_ipblock.ingress.ips[0]
    PORTAL_WORDPRESS_DB_HOST        = "${local.mariadb_host}:3306"
    PORTAL_MARIADB_REQUIRE_SSL      = "true"
    PORTAL_EGRESS_DB_CIDRS          = "${local.mariadb_ip}/32"
    PORTAL_EGRESS_S3_CIDRS          = join(",", local.s3_egress_cidrs)
    # Authentik is served by the platform's ingress-nginx (its LoadBalancer at the ingress IP).
    PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS = "true"
    PORTAL_EGRESS_AUTHENTIK_CIDRS       = "${ionoscloud_ipblock.ingress.ips[0]}/32"
    PORTAL_AUTHENTIK_URL                = "https://${local.authentik_host}"
    PORTAL_OIDC_SERVER_URL              = "https://${local.authentik_host}/application/o/portal"
    DJANGO_ALLOWED_HOSTS                = "${local.portal_host},localhost"
    DJANGO_CSRF_TRUSTED_ORIGINS         = "https://${local.portal_host}"
  }
}

# The portal's secret settings from the infrastructure: written into the platform's secret
# store by the platform root, read by the portal's ExternalSecret. Never into a file.
output "portal_secrets" {
  description = "The portal's secret settings from the infrastructure, by setting name."
  sensitive   = true
  value = {
    DATABASE_URL                = "postgres://${ionoscloud_pg_user.portal.username}:${random_password.postgres_portal.result}@${local.postgres_host}:5432/${ionoscloud_pg_database.portal.name}?sslmode=require"
    PORTAL_MARIADB_URL          = "mysql://portaladmin:${random_password.mariadb_admin.result}@${local.mariadb_host}:3306/?ssl=true"
    PORTAL_S3_ACCESS_KEY_ID     = ionoscloud_s3_key.portal.id
    PORTAL_S3_SECRET_ACCESS_KEY = ionoscloud_s3_key.portal.secret_key
  }
}
