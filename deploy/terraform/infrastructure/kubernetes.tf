# The Managed Kubernetes cluster and its one autoscaling node pool.

resource "ionoscloud_k8s_cluster" "platform" {
  name                  = "${var.environment}-platform"
  k8s_version           = var.k8s_version
  api_subnet_allow_list = var.k8s_api_allow_list

  maintenance_window {
    day_of_the_week = var.maintenance_day
    time            = "02:00:00Z"
  }
}

resource "ionoscloud_k8s_node_pool" "platform" {
  name              = "${var.environment}-pool"
  k8s_cluster_id    = ionoscloud_k8s_cluster.platform.id
  datacenter_id     = ionoscloud_datacenter.platform.id
  k8s_version       = ionoscloud_k8s_cluster.platform.k8s_version
  cpu_family        = var.node_cpu_family
  availability_zone = "AUTO"
  storage_type      = "SSD"
  storage_size      = var.node_storage_gb
  cores_count       = var.node_cores
  ram_size          = var.node_ram_mb
  node_count        = var.node_min_count

  auto_scaling {
    min_node_count = var.node_min_count
    max_node_count = var.node_max_count
  }

  lans {
    id   = ionoscloud_lan.private.id
    dhcp = true
  }

  maintenance_window {
    day_of_the_week = var.maintenance_day
    time            = "03:00:00Z"
  }

  lifecycle {
    # The autoscaler changes node_count; Terraform sets only its bounds.
    ignore_changes = [node_count]
  }
}
