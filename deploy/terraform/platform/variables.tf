variable "environment" {
  description = "Name of the environment (staging, production): picks deploy/platform/clusters/<environment>."
  type        = string
}

variable "state_bucket" {
  description = "Bucket of the remote states (the infrastructure root's state is read from it)."
  type        = string
}

variable "state_region" {
  description = "IONOS Object Storage region of the state bucket."
  type        = string
  default     = "eu-central-3"
}

variable "git_url" {
  description = "HTTPS URL of this repository, which Flux syncs the cluster from."
  type        = string
}

variable "git_branch" {
  description = "Branch Flux follows in this environment."
  type        = string
  default     = "main"
}

variable "git_username" {
  description = "User name that goes with git_token (any non-empty value for GitHub tokens)."
  type        = string
  default     = "flux"
}

variable "git_token" {
  description = "Token with push rights on the repository (bootstrap commits Flux's manifests); set TF_VAR_git_token, never in a file."
  type        = string
  sensitive   = true
}

variable "acme_email" {
  description = "E-mail Let's Encrypt sends expiry notices to (the ClusterIssuer's account)."
  type        = string
}

variable "ionos_ai_endpoint" {
  description = "OpenAI-compatible endpoint of the IONOS AI Model Hub (OpenWebUI, content pipeline)."
  type        = string
  default     = "https://openai.inference.de-txl.ionos.com/v1"
}
