#include "services/media/image_processor.h"

#include <vips/vips8>

#include <cstring>
#include <mutex>
#include <set>

#include "node/common/log.h"

namespace gc {

using vips::VError;
using vips::VImage;

namespace {

// The loaders uploads may reach (class names; a block or unblock covers the
// class and its File/Buffer/Source subclasses).
constexpr const char* kAllowedLoaderClasses[] = {"VipsForeignLoadJpeg", "VipsForeignLoadPng",
                                                 "VipsForeignLoadWebp", "VipsForeignLoadNsgif"};

// libvips and GLib warn on stderr; the node's stderr is one JSON object per
// line, so their messages go through the node's log instead.
void VipsLog(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  LogWarn("libvips", {{"domain", domain ? domain : ""}, {"message", message ? message : ""},
                      {"level", static_cast<int64_t>(level & G_LOG_LEVEL_MASK)}});
}

void InitVipsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char* domain : {"VIPS", "GLib", "GLib-GObject"}) {
      g_log_set_handler(domain, static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                                                            G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG),
                        VipsLog, nullptr);
    }
    if (VIPS_INIT("groupchat") != 0) {
      LogError("libvips failed to start", {{"error", vips_error_buffer()}});
      std::abort();  // "should never happen": the package is broken
    }
    vips_cache_set_max(0);   // no operation cache in a server: memory stays bounded
    vips_concurrency_set(1); // the media pool is the parallelism
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char* c : kAllowedLoaderClasses) vips_operation_block_set(c, FALSE);
  });
}

// Metadata that survives re-encoding: the timing of animations. Everything
// else (exif-*, xmp-data, iptc-data, icc-profile-data, png-comment-*,
// gif-comment, jpeg-comment, orientation, resolution...) is removed.
bool KeepField(const char* name) {
  static const std::set<std::string> keep = {"page-height", "delay", "loop", "gif-delay", "gif-loop", "n-pages"};
  return keep.count(name) > 0;
}

Error InvalidMedia(const std::string& why) { return Error::Invalid(why, "invalid_media"); }

// libvips's error text names internal files; keep the first line, short.
std::string Short(const VError& e) {
  std::string m = e.what();
  size_t nl = m.find('\n');
  if (nl != std::string::npos) m.resize(nl);
  if (m.size() > 200) m.resize(200);
  return m;
}

bool Animated(const std::string& type) { return type == "image/gif" || type == "image/webp"; }

}  // namespace

ImageProcessor::ImageProcessor(int64_t max_pixels) : max_pixels_(max_pixels) { InitVipsOnce(); }

const char* ImageProcessor::LoaderFor(const std::string& content_type) {
  // What vips_foreign_find_load names for a file of this type.
  if (content_type == "image/jpeg") return "VipsForeignLoadJpegFile";
  if (content_type == "image/png") return "VipsForeignLoadPngFile";
  if (content_type == "image/webp") return "VipsForeignLoadWebpFile";
  if (content_type == "image/gif") return "VipsForeignLoadNsgifFile";
  return nullptr;
}

Result<ImageInfo> ImageProcessor::Probe(const std::string& path, const std::string& content_type) const {
  const char* loader = LoaderFor(content_type);
  if (!loader) return InvalidMedia("not an image type this node decodes");
  // The sniffed type and what libvips finds must agree: a file that looks
  // like a JPEG to us but like something else to libvips is refused.
  const char* found = vips_foreign_find_load(path.c_str());
  if (!found) {
    vips_error_clear();
    return InvalidMedia("the file is not a readable " + content_type + " image");
  }
  if (std::strcmp(found, loader) != 0) return InvalidMedia("the file is not a " + content_type + " image");
  try {
    auto opts = VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
    if (Animated(content_type)) opts->set("n", -1);
    // Lazy: only the header is read here.
    VImage img = VImage::new_from_file(path.c_str(), opts);
    ImageInfo info;
    info.content_type = content_type;
    info.width = img.width();
    int page_height = vips_image_get_page_height(img.get_image());
    info.height = page_height > 0 ? page_height : img.height();
    info.frames = info.height > 0 ? std::max(1, img.height() / info.height) : 1;
    int64_t pixels = static_cast<int64_t>(img.width()) * static_cast<int64_t>(img.height());
    if (img.width() <= 0 || img.height() <= 0) return InvalidMedia("the image has no pixels");
    if (pixels > max_pixels_) {
      return InvalidMedia("the image declares " + std::to_string(info.width) + " x " + std::to_string(info.height) +
                          (info.frames > 1 ? " x " + std::to_string(info.frames) + " frames" : std::string()) +
                          " pixels, over this node's limit of " + std::to_string(max_pixels_) +
                          " (media.max_image_pixels)");
    }
    return info;
  } catch (const VError& e) {
    vips_error_clear();
    return InvalidMedia("the image cannot be read: " + Short(e));
  }
}

Result<ImageInfo> ImageProcessor::Reencode(const std::string& in, const std::string& content_type,
                                           const std::string& out) const {
  auto info = Probe(in, content_type);
  if (!info.ok()) return info;
  try {
    auto opts = VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
    bool animated = Animated(content_type) && info->frames > 1;
    if (Animated(content_type)) opts->set("n", -1);
    VImage img = VImage::new_from_file(in.c_str(), opts);
    // Orientation first (a still image only: an animation is a strip of
    // frames, and GIF has no EXIF). autorot also drops the orientation tag.
    if (!animated) img = img.autorot();
    // Our own header (removing fields touches nothing shared), with a fixed
    // resolution (72 dpi): savers write it (PNG pHYs, JPEG density), and it
    // should say nothing about the original.
    img = img.copy(VImage::option()->set("xres", 72.0 / 25.4)->set("yres", 72.0 / 25.4));
    if (gchar** fields = vips_image_get_fields(img.get_image())) {
      for (gchar** f = fields; *f; ++f) {
        if (!KeepField(*f)) vips_image_remove(img.get_image(), *f);
      }
      g_strfreev(fields);
    }
    if (content_type == "image/jpeg") {
      // Q 90: re-encoding should not visibly degrade a photo.
      img.jpegsave(out.c_str(), VImage::option()->set("Q", 90)->set("strip", true));
    } else if (content_type == "image/png") {
      img.pngsave(out.c_str(), VImage::option()->set("strip", true));
    } else if (content_type == "image/webp") {
      img.webpsave(out.c_str(), VImage::option()->set("Q", 90)->set("strip", true));
    } else {
      img.gifsave(out.c_str(), VImage::option()->set("strip", true));
    }
    ImageInfo done = *info;
    done.width = img.width();
    int ph = vips_image_get_page_height(img.get_image());
    done.height = animated && ph > 0 ? ph : img.height();
    return done;
  } catch (const VError& e) {
    vips_error_clear();
    return InvalidMedia("the image cannot be decoded: " + Short(e));
  }
}

Result<ImageInfo> ImageProcessor::Thumbnail(const std::string& in, int size, const std::string& out) const {
  try {
    VImage t = VImage::thumbnail(in.c_str(), size,
                                 VImage::option()->set("height", size)->set("size", VIPS_SIZE_DOWN)->set(
                                     "fail_on", VIPS_FAIL_ON_TRUNCATED));
    t.webpsave(out.c_str(), VImage::option()->set("Q", 80)->set("strip", true));
    ImageInfo info;
    info.width = t.width();
    info.height = t.height();
    info.content_type = "image/webp";
    return info;
  } catch (const VError& e) {
    vips_error_clear();
    return InvalidMedia("no thumbnail could be made: " + Short(e));
  }
}

}  // namespace gc
