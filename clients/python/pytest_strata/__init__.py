"""pytest-strata: pytest fixtures that run a throw-away Strata S3 server.

Installing the package activates the plugin (pytest_strata.plugin): the fixtures
strata_server, s3_client, s3_bucket, strata_faults, strata_baseline (with strata_seed)
and strata_server_factory. The helpers below work without pytest too.
"""

from .buckets import create_bucket, delete_bucket, empty_bucket, unique_bucket_name
from .server import (DEFAULT_ACCESS_KEY, DEFAULT_REGION, DEFAULT_SECRET_KEY, BannerInfo, StrataError,
                     StrataServer, find_binary, start_server)

__all__ = [
    "BannerInfo", "DEFAULT_ACCESS_KEY", "DEFAULT_REGION", "DEFAULT_SECRET_KEY", "StrataError",
    "StrataServer", "create_bucket", "delete_bucket", "empty_bucket", "find_binary",
    "start_server", "unique_bucket_name",
]
