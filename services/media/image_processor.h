// ImageProcessor: the only code that hands uploaded bytes to libvips.
//
// Uploaded images are untrusted input to a large C library with many
// loaders (PDF, SVG, TIFF, ImageMagick, Matlab, FITS...). So, once per
// process: every loader is blocked (vips_block_untrusted_set and an explicit
// block of the whole VipsForeignLoad class) and exactly four are unblocked:
// JPEG, PNG, WebP and GIF (libnsgif). On top, each call names the loader it
// expects (from the sniffed type) and refuses an image libvips opened with
// any other. Bombs are refused from the header, before a pixel is decoded:
// width x height x frames over `max_pixels` is invalid_media. Truncated
// files fail (fail_on=truncated) instead of being padded with grey.
//
// Re-encoding decodes the pixels and writes a new file of the same type
// with no metadata at all: EXIF orientation is applied first (autorot),
// then every metadata field except the animation timing of GIF/WebP is
// removed and the saver is told to strip. Animated GIF and WebP keep every
// frame.
//
// Thread-safety: thread-safe (libvips is). Calls are CPU- and memory-heavy
// (tens of ms, tens of MB): run them on the media service's bounded pool,
// never on I/O threads. libvips runs one thread per call (concurrency 1) so
// the pool size is the bound.
#pragma once

#include <cstdint>
#include <string>

#include "node/common/result.h"

namespace gc {

struct ImageInfo {
  int width = 0;    // of one frame
  int height = 0;   // of one frame
  int frames = 1;
  std::string content_type;  // image/jpeg, image/png, image/webp, image/gif
};

class ImageProcessor {
 public:
  // Initialises libvips once per process and sets the loader blocks.
  explicit ImageProcessor(int64_t max_pixels);

  // Reads only the header of `path` (opened with the loader for
  // `content_type`): dimensions and frames. kInvalid (detail invalid_media)
  // for a file the expected loader cannot read, or over max_pixels.
  Result<ImageInfo> Probe(const std::string& path, const std::string& content_type) const;

  // Decodes `in` and writes a metadata-free re-encoding of the same type to
  // `out` (orientation applied). kInvalid (invalid_media) for undecodable,
  // truncated or too large images; kInternal if `out` cannot be written.
  Result<ImageInfo> Reencode(const std::string& in, const std::string& content_type, const std::string& out) const;

  // Writes a WebP thumbnail of `in` (an image this class re-encoded) that
  // fits in size x size (never enlarged; the first frame of an animation).
  Result<ImageInfo> Thumbnail(const std::string& in, int size, const std::string& out) const;

  // The loader class ("VipsForeignLoadJpegFile"...) for a content type this
  // class accepts; nullptr otherwise.
  static const char* LoaderFor(const std::string& content_type);

 private:
  int64_t max_pixels_;
};

}  // namespace gc
