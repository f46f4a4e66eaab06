// media.store -> a BlobStore.
#include "node/config/config.h"
#include "services/media/blob_store.h"
#include "services/media/s3_blob_store.h"

namespace gc {

Result<std::unique_ptr<BlobStore>> MakeBlobStore(const Config& config, const std::string& media_dir) {
  if (config.media.store == "s3") {
    S3Options o;
    o.endpoint = config.media.s3.endpoint;
    o.bucket = config.media.s3.bucket;
    o.region = config.media.s3.region;
    o.access_key_id = config.media.s3.access_key_id;
    o.secret_access_key = config.media.s3.secret_access_key;
    o.path_style = config.media.s3.path_style;
    o.timeout_s = config.media.s3.timeout_s;
    o.max_object_bytes = static_cast<uint64_t>(std::max<int64_t>(config.limits.max_upload_bytes, 64 << 20));
    o.temp_dir = media_dir + "/tmp";
    return MakeS3BlobStore(o);
  }
  return MakeFilesystemBlobStore(media_dir + "/blobs");
}

}  // namespace gc
