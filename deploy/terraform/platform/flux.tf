# Settings deploy/platform/ substitutes (${INGRESS_IP}, ${DNS_ZONE}, ...) through the Flux
# Kustomizations' postBuild.substituteFrom; written before Flux first reconciles.
resource "kubernetes_namespace" "flux" {
  metadata {
    name = "flux-system"
  }
  lifecycle {
    ignore_changes = [metadata[0].labels]
  }
}

resource "kubernetes_config_map" "platform_settings" {
  metadata {
    name      = "platform-settings"
    namespace = kubernetes_namespace.flux.metadata[0].name
  }
  data = merge(local.infra.portal_config, {
    ENVIRONMENT = var.environment
    INGRESS_IP  = local.infra.ingress_ip
    DNS_ZONE    = local.infra.dns_zone_name
    ACME_EMAIL  = var.acme_email
    # OpenWebUI's and the content pipeline's model backend (OpenAI-compatible).
    IONOS_AI_ENDPOINT = var.ionos_ai_endpoint
  })
}

# Commits Flux's own manifests under deploy/platform/clusters/<environment>/flux-system and
# points the cluster at that folder; everything else there is applied by Flux.
resource "flux_bootstrap_git" "platform" {
  path = "deploy/platform/clusters/${var.environment}"

  depends_on = [
    kubernetes_config_map.platform_settings,
    kubernetes_secret.portal,
    kubernetes_secret.authentik,
    kubernetes_secret.redis,
    kubernetes_secret.grafana,
  ]
}
