# Pinned providers and the remote state. The state bucket, its key and its region come from
# environments/<env>.s3.tfbackend (terraform init -backend-config=...); the S3 credentials
# from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: never from a file.
terraform {
  required_version = ">= 1.10.0, < 2.0.0" # 1.10: S3-native state locking (use_lockfile)

  required_providers {
    ionoscloud = {
      source  = "ionos-cloud/ionoscloud"
      version = "6.7.4"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }

  backend "s3" {
    use_lockfile                = true
    use_path_style              = true
    skip_credentials_validation = true # IONOS Object Storage has no STS
    skip_region_validation      = true # its regions are not AWS's
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
  }
}

# The token comes from IONOS_TOKEN, the Object Storage key of the bucket resources from
# IONOS_S3_ACCESS_KEY / IONOS_S3_SECRET_KEY.
provider "ionoscloud" {
  s3_region = var.s3_region
}
