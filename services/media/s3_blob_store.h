// The S3 blob store (media.store: s3): any S3-compatible object store, path
// style (endpoint/bucket/key) or virtual-host style (bucket.endpoint/key),
// requests signed with SigV4 (sigv4.h) and sent with libcurl.
//
// Every request is bounded: a connect timeout, a whole-request timeout
// (media.s3.timeout_s), no redirects, http/https only, and downloads are
// capped at max_object_bytes. Objects are named media/<sha256>; a PUT
// carries the object's real SHA-256 as x-amz-content-sha256, so the store
// refuses bytes that were damaged on the way. Downloads are staged in an
// unlinked file under temp_dir and served from there.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "services/media/blob_store.h"

namespace gc {

struct S3Options {
  std::string endpoint;  // http(s)://host[:port]
  std::string bucket;
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  bool path_style = true;
  int timeout_s = 30;
  uint64_t max_object_bytes = 64ull << 20;
  std::string temp_dir;
};

std::unique_ptr<BlobStore> MakeS3BlobStore(const S3Options& options);

}  // namespace gc
