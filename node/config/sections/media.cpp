// media.*: where uploads are stored and how much the node accepts
// (services/media/, spec/media.md).
#include "node/config/config_checks.h"
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidMediaStore(std::string_view s) { return s == "filesystem" || s == "s3"; }

const Key kMediaKeys[] = {
    {"store", StringField{GC_CONFIG_REF(media.store), ValidMediaStore, "filesystem or s3"},
     "Where the bytes live: filesystem (content-addressed files under data_dir/media/blobs) or s3."},
    {"s3.endpoint", StringField{GC_CONFIG_REF(media.s3.endpoint), ValidOptionalBaseUrl,
                                "empty, or an http:// or https:// URL"},
     "Base URL of the S3-compatible service (required when store is s3)."},
    {"s3.bucket", StringField{GC_CONFIG_REF(media.s3.bucket), nullptr, "a string"},
     "Bucket holding the objects media/<sha256> (required when store is s3)."},
    {"s3.region", StringField{GC_CONFIG_REF(media.s3.region), NonEmpty, "a region name such as us-east-1"},
     "Region in the SigV4 signature."},
    {"s3.access_key_id", StringField{GC_CONFIG_REF(media.s3.access_key_id), nullptr, "a string"},
     "Access key id (required when store is s3)."},
    {"s3.secret_access_key", StringField{GC_CONFIG_REF(media.s3.secret_access_key), nullptr, "a string"},
     "Secret key (required when store is s3); shown as *** in the effective configuration."},
    {"s3.path_style", BoolField{GC_CONFIG_REF(media.s3.path_style)},
     "true: ENDPOINT/BUCKET/KEY; false: virtual-host style BUCKET.HOST/KEY."},
    {"s3.timeout_s", IntField{GC_CONFIG_REF(media.s3.timeout_s), 1, 3600},
     "Seconds one request to the store may take, whole transfer."},
    {"max_image_pixels", Int64Field{GC_CONFIG_REF(media.max_image_pixels), 1, 1000000000},
     "Largest image in pixels (width x height x frames), checked from the header before decoding."},
    {"quota_bytes_per_user", Int64Field{GC_CONFIG_REF(media.quota_bytes_per_user), 0, INT64_MAX},
     "Bytes of uploads one user may keep; 0: no quota."},
    {"remote_cache_bytes", Int64Field{GC_CONFIG_REF(media.remote_cache_bytes), 0, INT64_MAX},
     "Bytes of other nodes' media cached here (originals); least recently read evicted beyond."},
    {"retention_days", IntField{GC_CONFIG_REF(media.retention_days), 0, 36500},
     "Uploads older than this are removed everywhere, audited; 0: keep forever."},
    {"unreferenced_after_s", IntField{GC_CONFIG_REF(media.unreferenced_after_s), 1, 31536000},
     "Seconds after which an upload no live message or avatar refers to is removed."},
    {"sweep_interval_s", IntField{GC_CONFIG_REF(media.sweep_interval_s), 10, 86400},
     "Seconds between two runs of the media sweep."},
    {"image_workers", IntField{GC_CONFIG_REF(media.image_workers), 1, 64},
     "Threads decoding and re-encoding images."},
    {"image_queue", IntField{GC_CONFIG_REF(media.image_queue), 0, 10000},
     "Uploads waiting for an image worker; past it new uploads get 503."},
};

}  // namespace

Section MediaConfigSection() {
  return {"media", "Uploads: the store (filesystem or S3), image limits, quotas and retention.", kMediaKeys};
}

}  // namespace gc::config
