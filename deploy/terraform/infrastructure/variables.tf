variable "environment" {
  description = "Name of the environment (staging, production): prefixes every resource name."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.environment))
    error_message = "environment: lower-case letters, digits and dashes, 2 to 20 characters."
  }
}

variable "location" {
  description = "IONOS location of the datacenter, the cluster's node pool, the databases and the IP block."
  type        = string
  default     = "de/txl"
}

variable "k8s_version" {
  description = "Kubernetes version of the Managed Kubernetes cluster and its node pool (the portal validates against 1.32)."
  type        = string
  default     = "1.32.5"
}

variable "k8s_api_allow_list" {
  description = "CIDRs that may reach the cluster's API server (CI runners, operators); empty: anyone."
  type        = list(string)
  default     = []
}

variable "maintenance_day" {
  description = "Day of the week of the cluster's, node pool's and databases' maintenance window."
  type        = string
  default     = "Sunday"
}

variable "node_cores" {
  description = "CPU cores of each node of the node pool."
  type        = number
  default     = 4
}

variable "node_ram_mb" {
  description = "RAM of each node of the node pool, in MB."
  type        = number
  default     = 16384
}

variable "node_storage_gb" {
  description = "System volume of each node, in GB."
  type        = number
  default     = 100
}

variable "node_min_count" {
  description = "Fewest nodes the node pool's autoscaler scales down to."
  type        = number
  default     = 3
}

variable "node_max_count" {
  description = "Most nodes the node pool's autoscaler scales up to."
  type        = number
  default     = 8
  validation {
    condition     = var.node_max_count >= 1
    error_message = "node_max_count must be at least 1."
  }
}

variable "postgres_version" {
  description = "PostgreSQL version of the DBaaS cluster that holds Authentik's and the portal's databases."
  type        = string
  default     = "16"
}

variable "postgres_instances" {
  description = "Instances of the PostgreSQL cluster (one primary, the rest standbys)."
  type        = number
  default     = 2
}

variable "postgres_cores" {
  description = "CPU cores of each PostgreSQL instance."
  type        = number
  default     = 2
}

variable "postgres_ram_mb" {
  description = "RAM of each PostgreSQL instance in MB (a multiple of 1024)."
  type        = number
  default     = 4096
}

variable "postgres_storage_mb" {
  description = "Storage of each PostgreSQL instance in MB (a multiple of 2048)."
  type        = number
  default     = 20480
}

variable "mariadb_version" {
  description = "MariaDB version of the DBaaS cluster that holds the tenants' WordPress databases."
  type        = string
  default     = "10.11"
}

variable "mariadb_instances" {
  description = "Instances of the MariaDB cluster (one primary, the rest replicas)."
  type        = number
  default     = 2
}

variable "mariadb_cores" {
  description = "CPU cores of each MariaDB instance."
  type        = number
  default     = 2
}

variable "mariadb_ram_gb" {
  description = "RAM of each MariaDB instance in GB."
  type        = number
  default     = 4
}

variable "mariadb_storage_gb" {
  description = "Storage of each MariaDB instance in GB."
  type        = number
  default     = 50
}

variable "s3_region" {
  description = "IONOS Object Storage region of the platform bucket (eu-central-3 is Berlin)."
  type        = string
  default     = "eu-central-3"
}

variable "s3_egress_cidrs" {
  description = "Addresses of the Object Storage endpoint the tenants may connect to (PORTAL_EGRESS_S3_CIDRS); empty: the address IONOS gives for the region's endpoint."
  type        = list(string)
  default     = []
}

variable "media_bucket" {
  description = "Name of the platform bucket: the tenants' media under tenants/<slug>/, backups under backups/ (globally unique)."
  type        = string
}

variable "backup_retention_days" {
  description = "Days a backup under backups/ is kept, and days an overwritten or deleted object version is kept."
  type        = number
  default     = 30
}

variable "dns_zone" {
  description = "DNS zone of the tenants' hosts (wordpress-<slug>.<zone>) and the platform's own (portal, authentik)."
  type        = string
}

variable "portal_user_email" {
  description = "E-mail of the IONOS user whose S3 key the portal uses and whose token it uses for tenant users and DNS records."
  type        = string
}

variable "node_cpu_family" {
  description = "CPU family of the nodes (one the location offers, e.g. INTEL_SKYLAKE or INTEL_ICELAKE in de/txl)."
  type        = string
  default     = "INTEL_SKYLAKE"
}
