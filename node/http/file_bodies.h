// Beast body types for bodies that live in files, not in memory.
//
// UploadBody: a request body written to a temporary file as it arrives
// (routes marked body_to_file: media uploads), hashed on the way (SHA-256)
// and its first bytes kept for sniffing, so a 25 MiB upload costs a 64 KiB
// buffer, not 25 MiB. FileRangeBody: a response body read from a file range
// (ResponseFile: downloads, Range requests) 64 KiB at a time.
//
// Only the HTTP session includes this (it pulls in Beast, which is costly to
// compile).
#pragma once

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include "node/http/http_types.h"

namespace gc {

// The file was created (and is owned) by the UploadedFile; a write error
// (disk full) ends the read with a generic-category error the session
// answers 503.
struct UploadBody {
  struct value_type {
    std::shared_ptr<UploadedFile> file;
  };
  class reader {
   public:
    // The parser makes its reader when it is made, before the session puts
    // the file into the body: keep the body, take the file at init.
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& b) : body_(b) {}
    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) {
      file_ = body_.file;
      if (!file_ || file_->fd < 0) {
        ec = boost::beast::error_code(EBADF, boost::system::generic_category());
        return;
      }
      crypto_hash_sha256_init(&sha_);
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      size_t total = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
           ++it) {
        boost::asio::const_buffer b = *it;
        const char* p = static_cast<const char*>(b.data());
        size_t len = b.size();
        crypto_hash_sha256_update(&sha_, reinterpret_cast<const unsigned char*>(p), len);
        if (file_->head.size() < 4096) file_->head.append(p, std::min(len, 4096 - file_->head.size()));
        while (len > 0) {
          ssize_t w = ::write(file_->fd, p, len);
          if (w < 0) {
            if (errno == EINTR) continue;
            ec = boost::beast::error_code(errno, boost::system::generic_category());
            return total;
          }
          p += w;
          len -= static_cast<size_t>(w);
          total += static_cast<size_t>(w);
        }
      }
      file_->size += total;
      ec = {};
      return total;
    }
    void finish(boost::beast::error_code& ec) {
      unsigned char out[crypto_hash_sha256_BYTES];
      crypto_hash_sha256_final(&sha_, out);
      char hex[2 * sizeof out + 1];
      sodium_bin2hex(hex, sizeof hex, out, sizeof out);
      file_->sha256_hex = hex;
      ::close(file_->fd);
      file_->fd = -1;
      ec = {};
    }

   private:
    value_type& body_;
    std::shared_ptr<UploadedFile> file_;
    crypto_hash_sha256_state sha_;
  };
};

struct FileRangeBody {
  using value_type = std::shared_ptr<ResponseFile>;
  static std::uint64_t size(const value_type& v) { return v ? v->length : 0; }
  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;
    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& b) : file_(b) {}
    void init(boost::beast::error_code& ec) {
      pos_ = file_ ? file_->offset : 0;
      left_ = file_ ? file_->length : 0;
      ec = {};
    }
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (left_ == 0) return boost::none;
      size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf_, left_));
      ssize_t n;
      do {
        n = ::pread(file_->fd, buf_, want, static_cast<off_t>(pos_));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        // The file shrank or failed under us: the length already sent is a
        // promise we cannot keep, so the connection ends.
        ec = boost::beast::error_code(n < 0 ? errno : EIO, boost::system::generic_category());
        return boost::none;
      }
      pos_ += static_cast<uint64_t>(n);
      left_ -= static_cast<uint64_t>(n);
      return std::make_pair(const_buffers_type(buf_, static_cast<size_t>(n)), left_ > 0);
    }

   private:
    const value_type& file_;
    uint64_t pos_ = 0;
    uint64_t left_ = 0;
    char buf_[65536];
  };
};

}  // namespace gc
