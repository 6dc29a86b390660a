output "flux_path" {
  description = "Folder of this repository the cluster is synced from."
  value       = flux_bootstrap_git.platform.path
}

output "secret_store_namespace" {
  description = "Namespace of the platform's secret store (add the operator's secrets there, see deploy/README.md)."
  value       = kubernetes_namespace.secrets.metadata[0].name
}
