# The platform bucket (tenants' media, backups), encrypted and versioned, and the IONOS user
# whose S3 key the portal uses for it.

resource "ionoscloud_s3_bucket" "media" {
  name   = var.media_bucket
  region = var.s3_region

  # A bucket of tenants' media is never emptied by a plan.
  lifecycle {
    prevent_destroy = true
  }
}

resource "ionoscloud_s3_bucket_versioning" "media" {
  bucket = ionoscloud_s3_bucket.media.name
  versioning_configuration {
    status = "Enabled"
  }
}

resource "ionoscloud_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = ionoscloud_s3_bucket.media.name
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "ionoscloud_s3_bucket_lifecycle_configuration" "media" {
  bucket = ionoscloud_s3_bucket.media.name

  # Backups (database dumps, volume exports) expire; the tenants' media do not.
  rule {
    id     = "1"
    status = "Enabled"
    prefix = "backups/"
    expiration {
      days = var.backup_retention_days
    }
  }

  # Versioning keeps what a tenant overwrote or deleted, for a while.
  rule {
    id     = "2"
    status = "Enabled"
    prefix = ""
    noncurrent_version_expiration {
      noncurrent_days = var.backup_retention_days
    }
  }

  rule {
    id     = "3"
    status = "Enabled"
    prefix = ""
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# The portal's own IONOS user: S3 on the platform bucket (through the policy below), and the
# rights to make the tenants' IONOS users and their keys (PORTAL_S3_CREDENTIALS=ionos).
resource "random_password" "portal_user" {
  length  = 32
  special = false
}

resource "ionoscloud_user" "portal" {
  first_name     = "Tenant"
  last_name      = "Portal (${var.environment})"
  email          = var.portal_user_email
  password       = random_password.portal_user.result
  administrator  = false
  force_sec_auth = false
  active         = true
}

resource "ionoscloud_group" "portal" {
  name         = "${var.environment}-tenant-portal"
  s3_privilege = true
  user_ids     = [ionoscloud_user.portal.id]
}

resource "ionoscloud_s3_key" "portal" {
  user_id = ionoscloud_user.portal.id
  active  = true
}

# The portal's statement. The portal adds and removes its tenants' statements (Sids
# tenant-<slug>-*) itself, so Terraform writes the policy once and leaves it to the portal.
resource "ionoscloud_s3_bucket_policy" "media" {
  bucket = ionoscloud_s3_bucket.media.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "tenant-portal"
        Effect    = "Allow"
        Principal = { CanonicalUser = ionoscloud_user.portal.s3_canonical_user_id }
        Action    = ["s3:*"]
        Resource = [
          "arn:aws:s3:::${var.media_bucket}",
          "arn:aws:s3:::${var.media_bucket}/*",
        ]
      },
    ]
  })

  lifecycle {
    ignore_changes = [policy]
  }
}
