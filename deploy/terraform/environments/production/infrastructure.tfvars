environment       = "production"
media_bucket      = "wp-platform-production-media"
dns_zone          = "wp.example.com"
portal_user_email = "tenant-portal@wp.example.com"
node_min_count    = 3
node_max_count    = 8

postgres_instances = 2
mariadb_instances  = 2
