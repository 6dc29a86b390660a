"""The Kubernetes objects of one tenant, built from its spec and settings (plain dicts)."""

from provisioning.manifests.namespace import namespace_manifests
from provisioning.manifests.network import network_manifests
from provisioning.manifests.wordpress import wordpress_manifests

__all__ = ["all_manifests", "namespace_manifests", "network_manifests", "wordpress_manifests"]


def all_manifests(spec) -> list[dict]:
    return [*namespace_manifests(spec), *wordpress_manifests(spec), *network_manifests(spec)]
