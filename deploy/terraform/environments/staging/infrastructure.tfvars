environment       = "staging"
media_bucket      = "wp-platform-staging-media"
dns_zone          = "staging.wp.example.com"
portal_user_email = "tenant-portal-staging@wp.example.com"
node_min_count    = 2
node_max_count    = 4
node_ram_mb       = 8192

postgres_instances = 1
mariadb_instances  = 1
