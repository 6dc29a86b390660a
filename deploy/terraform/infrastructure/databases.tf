# DBaaS PostgreSQL (Authentik's and the portal's databases) and MariaDB (the tenants'
# WordPress databases), both on the private LAN only. Clients connect with TLS: the URLs in
# outputs.tf say sslmode=require and ssl=true. Passwords are generated here and live only in
# the (encrypted, remote) state and the platform's secret store.

resource "random_password" "postgres_admin" {
  length  = 32
  special = false
}

resource "random_password" "postgres_portal" {
  length  = 32
  special = false
}

resource "random_password" "postgres_authentik" {
  length  = 32
  special = false
}

resource "random_password" "mariadb_admin" {
  length  = 32
  special = false
}

resource "ionoscloud_pg_cluster" "platform" {
  display_name         = "${var.environment}-postgres"
  postgres_version     = var.postgres_version
  location             = ionoscloud_datacenter.platform.location
  instances            = var.postgres_instances
  cores                = var.postgres_cores
  ram                  = var.postgres_ram_mb
  storage_size         = var.postgres_storage_mb
  storage_type         = "SSD Premium"
  synchronization_mode = "ASYNCHRONOUS"

  connections {
    datacenter_id = ionoscloud_datacenter.platform.id
    lan_id        = ionoscloud_lan.private.id
    cidr          = local.postgres_net
  }

  maintenance_window {
    day_of_the_week = var.maintenance_day
    time            = "04:00:00"
  }

  credentials {
    username = "platformadmin"
    password = random_password.postgres_admin.result
  }
}

resource "ionoscloud_pg_user" "portal" {
  cluster_id = ionoscloud_pg_cluster.platform.id
  username   = "portal"
  password   = random_password.postgres_portal.result
}

resource "ionoscloud_pg_database" "portal" {
  cluster_id = ionoscloud_pg_cluster.platform.id
  name       = "portal"
  owner      = ionoscloud_pg_user.portal.username
}

resource "ionoscloud_pg_user" "authentik" {
  cluster_id = ionoscloud_pg_cluster.platform.id
  username   = "authentik"
  password   = random_password.postgres_authentik.result
}

resource "ionoscloud_pg_database" "authentik" {
  cluster_id = ionoscloud_pg_cluster.platform.id
  name       = "authentik"
  owner      = ionoscloud_pg_user.authentik.username
}

resource "ionoscloud_mariadb_cluster" "tenants" {
  display_name    = "${var.environment}-mariadb"
  mariadb_version = var.mariadb_version
  location        = ionoscloud_datacenter.platform.location
  instances       = var.mariadb_instances
  cores           = var.mariadb_cores
  ram             = var.mariadb_ram_gb
  storage_size    = var.mariadb_storage_gb

  connections {
    datacenter_id = ionoscloud_datacenter.platform.id
    lan_id        = ionoscloud_lan.private.id
    cidr          = local.mariadb_net
  }

  maintenance_window {
    day_of_the_week = var.maintenance_day
    time            = "05:00:00"
  }

  # The portal's database step creates each tenant's database and user with this account.
  credentials {
    username = "portaladmin"
    password = random_password.mariadb_admin.result
  }
}
