data "terraform_remote_state" "infrastructure" {
  backend = "s3"
  config = {
    bucket                      = var.state_bucket
    key                         = "${var.environment}/infrastructure.tfstate"
    region                      = var.state_region
    endpoints                   = { s3 = "https://s3.${var.state_region}.ionoscloud.com" }
    use_path_style              = true
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
  }
}

locals {
  infra = data.terraform_remote_state.infrastructure.outputs
}

# The cluster's admin credentials, straight from the IONOS API into the providers: no
# kubeconfig file is written.
data "ionoscloud_k8s_cluster" "platform" {
  id = local.infra.k8s_cluster_id
}

locals {
  kube = {
    host                   = data.ionoscloud_k8s_cluster.platform.server
    token                  = data.ionoscloud_k8s_cluster.platform.user_tokens["cluster-admin"]
    cluster_ca_certificate = data.ionoscloud_k8s_cluster.platform.ca_crt
  }
}

provider "kubernetes" {
  host                   = local.kube.host
  token                  = local.kube.token
  cluster_ca_certificate = local.kube.cluster_ca_certificate
}

provider "flux" {
  kubernetes = local.kube
  git = {
    url    = var.git_url
    branch = var.git_branch
    http = {
      username = var.git_username
      password = var.git_token
    }
  }
}
