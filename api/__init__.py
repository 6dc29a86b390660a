"""The portal's REST API (/api/v1/): the pages' actions and reads for scripts and CI."""
