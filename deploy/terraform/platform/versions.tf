# The platform layer on the cluster the infrastructure root made: Flux bootstrapped from this
# repository (it then applies deploy/platform/ and the portal's overlay), and the platform's
# secret store that External Secrets reads. Credentials: IONOS_TOKEN, AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY (state) and TF_VAR_git_token, all from the environment.
terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    ionoscloud = {
      source  = "ionos-cloud/ionoscloud"
      version = "6.7.4"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "2.36.0"
    }
    flux = {
      source  = "fluxcd/flux"
      version = "1.4.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }

  backend "s3" {
    use_lockfile                = true
    use_path_style              = true
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
  }
}
