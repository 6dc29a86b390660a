# The platform's secret store: one namespace nobody but External Secrets reads, holding what
# the infrastructure generated and what is generated here. ClusterSecretStore "platform"
# (deploy/platform/configs/) serves it to the ExternalSecrets of the portal and Authentik.

resource "kubernetes_namespace" "secrets" {
  metadata {
    name = "platform-secrets"
    labels = {
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }
}

resource "random_password" "django_secret_key" {
  length  = 64
  special = false
}

resource "random_password" "authentik_secret_key" {
  length  = 64
  special = false
}

resource "random_password" "grafana" {
  length  = 32
  special = false
}

# The bearer token Prometheus scrapes the portal's /metrics with (deploy/monitoring's
# ServiceMonitor reads it from the same Secret the pods do).
resource "random_password" "metrics_token" {
  length  = 48
  special = false
}

resource "random_password" "redis" {
  length  = 32
  special = false
}

resource "kubernetes_secret" "portal" {
  metadata {
    name      = "portal"
    namespace = kubernetes_namespace.secrets.metadata[0].name
  }
  data = merge(local.infra.portal_secrets, {
    DJANGO_SECRET_KEY = random_password.django_secret_key.result
    CELERY_BROKER_URL = "redis://:${random_password.redis.result}@redis.portal-redis.svc:6379/0"
    # Rate limits and lock-outs, shared by every pod; a database of its own, as FLUSHDB on a
    # cache clear must not take the broker's queue with it (portal.E002).
    PORTAL_CACHE_URL     = "redis://:${random_password.redis.result}@redis.portal-redis.svc:6379/1"
    PORTAL_METRICS_TOKEN = random_password.metrics_token.result
  })
}

resource "kubernetes_secret" "redis" {
  metadata {
    name      = "redis"
    namespace = kubernetes_namespace.secrets.metadata[0].name
  }
  data = {
    password = random_password.redis.result
  }
}

resource "kubernetes_secret" "authentik" {
  metadata {
    name      = "authentik"
    namespace = kubernetes_namespace.secrets.metadata[0].name
  }
  data = {
    AUTHENTIK_SECRET_KEY           = random_password.authentik_secret_key.result
    AUTHENTIK_POSTGRESQL__HOST     = local.infra.authentik_postgres.host
    AUTHENTIK_POSTGRESQL__PORT     = local.infra.authentik_postgres.port
    AUTHENTIK_POSTGRESQL__NAME     = local.infra.authentik_postgres.name
    AUTHENTIK_POSTGRESQL__USER     = local.infra.authentik_postgres.user
    AUTHENTIK_POSTGRESQL__PASSWORD = local.infra.authentik_postgres.password
    AUTHENTIK_POSTGRESQL__SSLMODE  = "require"
  }
}

resource "kubernetes_secret" "grafana" {
  metadata {
    name      = "grafana"
    namespace = kubernetes_namespace.secrets.metadata[0].name
  }
  data = {
    admin-user     = "admin"
    admin-password = random_password.grafana.result
  }
}
