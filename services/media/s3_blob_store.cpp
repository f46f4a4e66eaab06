#include "services/media/s3_blob_store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "node/common/log.h"
#include "services/media/sigv4.h"

namespace gc {

namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Target {
  std::string url;   // full URL
  std::string host;  // Host header value
  std::string path;  // unencoded path for signing
};

class S3BlobStore : public BlobStore {
 public:
  explicit S3BlobStore(S3Options o) : o_(std::move(o)) {
    InitCurlOnce();
    while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
    size_t scheme_end = o_.endpoint.find("://");
    scheme_ = o_.endpoint.substr(0, scheme_end);
    authority_ = o_.endpoint.substr(scheme_end + 3);
  }
  const char* kind() const override { return "s3"; }

  Status Put(const std::string& sha, const std::string& local_path, uint64_t size) override {
    FILE* f = std::fopen(local_path.c_str(), "rb");
    if (!f) return Error::Unavailable(std::string("cannot open the staged upload: ") + std::strerror(errno));
    long status = 0;
    std::string body;
    Status st = Send("PUT", sha, sha, f, size, nullptr, &status, &body);
    std::fclose(f);
    if (!st.ok()) return st;
    if (status != 200) return Failed("PUT", status, body);
    ::unlink(local_path.c_str());  // the object store has it now
    return OkStatus();
  }

  Result<Opened> Open(const std::string& sha) override {
    // An unlinked file: gone once the last descriptor closes.
    int fd = ::open(o_.temp_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return Error::Unavailable(std::string("cannot stage a download: ") + std::strerror(errno));
    long status = 0;
    std::string body;
    Sink sink{fd, 0, o_.max_object_bytes, {}};
    Status st = Send("GET", sha, Sha256Hex(""), nullptr, 0, &sink, &status, &body);
    if (!st.ok()) {
      ::close(fd);
      return st.error();
    }
    if (status == 404) {
      ::close(fd);
      return Error::NotFound("no such blob");
    }
    if (status != 200) {
      ::close(fd);
      return Failed("GET", status, sink.error_body);
    }
    return Opened{fd, sink.written};
  }

  Status Delete(const std::string& sha) override {
    long status = 0;
    std::string body;
    Status st = Send("DELETE", sha, Sha256Hex(""), nullptr, 0, nullptr, &status, &body);
    if (!st.ok()) return st;
    if (status != 204 && status != 200 && status != 404) return Failed("DELETE", status, body);
    return OkStatus();
  }

 private:
  // Where a GET's body goes: the file (successful answers) or, capped, a
  // string (error answers).
  struct Sink {
    int fd;
    uint64_t written;
    uint64_t limit;
    std::string error_body;
    long status = 0;
    CURL* curl = nullptr;
  };

  static size_t WriteToSink(char* p, size_t, size_t n, void* user) {
    auto* s = static_cast<Sink*>(user);
    if (!s->status) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status != 200) {
      if (s->error_body.size() < 4096) s->error_body.append(p, std::min<size_t>(n, 4096 - s->error_body.size()));
      return n;
    }
    if (s->written + n > s->limit) return 0;  // over the cap: abort
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::write(s->fd, p + done, n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return 0;
      }
      done += static_cast<size_t>(w);
    }
    s->written += n;
    return n;
  }

  static size_t WriteToString(char* p, size_t, size_t n, void* user) {
    auto* s = static_cast<std::string*>(user);
    if (s->size() < 4096) s->append(p, std::min<size_t>(n, 4096 - s->size()));
    return n;
  }

  Target TargetFor(const std::string& sha) const {
    Target t;
    std::string key = "media/" + sha;
    if (o_.path_style) {
      t.host = authority_;
      t.path = "/" + o_.bucket + "/" + key;
    } else {
      t.host = o_.bucket + "." + authority_;
      t.path = "/" + key;
    }
    t.url = scheme_ + "://" + t.host + SigV4Encode(t.path, true);
    return t;
  }

  Error Failed(const char* what, long status, const std::string& body) {
    std::string code;
    size_t a = body.find("<Code>"), b = body.find("</Code>");
    if (a != std::string::npos && b != std::string::npos && b > a) code = body.substr(a + 6, b - a - 6);
    LogError("s3 request failed", {{"op", what}, {"status", static_cast<int64_t>(status)}, {"code", code}});
    return Error::Unavailable(std::string("the object store answered ") + what + " with HTTP " +
                              std::to_string(status) + (code.empty() ? "" : " (" + code + ")"));
  }

  Status Send(const char* method, const std::string& sha, const std::string& payload_sha, FILE* upload,
              uint64_t upload_size, Sink* sink, long* status, std::string* body) {
    Target t = TargetFor(sha);
    SigV4Request req;
    req.method = method;
    req.path = t.path;
    req.headers = {{"host", t.host}};
    req.payload_sha256_hex = payload_sha;
    SigV4Result sig = SignV4(req, {o_.access_key_id, o_.secret_access_key, ""}, o_.region, "s3", AmzDateNow(),
                             false, true);
    CURL* c = curl_easy_init();
    if (!c) return Error::Unavailable("cannot start an object store request");
    curl_slist* hdrs = nullptr;
    hdrs = curl_slist_append(hdrs, ("Authorization: " + sig.authorization).c_str());
    for (auto& [k, v] : sig.added_headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
    hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(c, CURLOPT_URL, t.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout_s) * 1000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (std::strcmp(method, "PUT") == 0) {
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(c, CURLOPT_READDATA, upload);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size));
    } else if (std::strcmp(method, "DELETE") == 0) {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (sink) {
      sink->curl = c;
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &S3BlobStore::WriteToSink);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
      curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(o_.max_object_bytes));
    } else {
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &S3BlobStore::WriteToString);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      LogError("s3 request failed", {{"op", method}, {"error", curl_easy_strerror(rc)}});
      return Error::Unavailable(std::string("the object store cannot be reached: ") + curl_easy_strerror(rc));
    }
    return OkStatus();
  }

  S3Options o_;
  std::string scheme_, authority_;
};

}  // namespace

std::unique_ptr<BlobStore> MakeS3BlobStore(const S3Options& options) {
  return std::make_unique<S3BlobStore>(options);
}

}  // namespace gc
