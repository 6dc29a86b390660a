"""The WordPress versions the portal offers by default; CI builds a tenant image for each."""

# Newest first. scripts/wordpress-versions.py prints this list for the images workflow, which
# builds one tenant-wordpress image per entry; the settings' default is this same list.
OFFERED = ["6.9", "6.8", "6.7", "6.6"]
