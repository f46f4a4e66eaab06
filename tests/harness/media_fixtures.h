// Media files for tests, made at test time with libvips plus a few bytes
// spliced by hand: a JPEG carrying EXIF with GPS and an orientation, a PNG
// with a tEXt chunk, a PNG that declares 30000 x 30000 pixels (a
// decompression bomb), an animated GIF. Header-only: unit and integration
// tests both use it.
#pragma once

#include <sodium.h>
#include <vips/vips8>

#include <cstdint>
#include <string>
#include <vector>

namespace gc::test {

// Hex SHA-256 of `s`, as media answers carry it.
inline std::string HexSha256(const std::string& s) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  char hex[2 * sizeof out + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

// `n` random bytes that are sniffed as no known type (a plain file).
inline std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  s[0] = '\x01';  // never sniffed as text or a known type
  return s;
}

inline void InitVipsForTests() {
  static bool done = [] {
    VIPS_INIT("groupchat-tests");
    return true;
  }();
  (void)done;
}

// A w x h RGB image with some structure (so JPEG has work to do).
inline vips::VImage TestPicture(int w, int h) {
  InitVipsForTests();
  vips::VImage x = vips::VImage::xyz(w, h);
  vips::VImage r = x[0] * (255.0 / std::max(1, w));
  vips::VImage g = x[1] * (255.0 / std::max(1, h));
  vips::VImage b = (x[0] + x[1]) * (127.0 / std::max(1, w + h));
  return r.bandjoin(g).bandjoin(b).cast(VIPS_FORMAT_UCHAR);
}

inline std::string Blob(VipsBlob* b) {
  size_t n = 0;
  const void* p = vips_blob_get(b, &n);
  std::string out(static_cast<const char*>(p), n);
  vips_area_unref(VIPS_AREA(b));
  return out;
}

inline std::string MakeJpeg(int w, int h) { return Blob(TestPicture(w, h).jpegsave_buffer()); }
inline std::string MakePng(int w, int h) { return Blob(TestPicture(w, h).pngsave_buffer()); }
inline std::string MakeWebp(int w, int h) { return Blob(TestPicture(w, h).webpsave_buffer()); }

// An animated GIF of `frames` frames of w x h, each a different colour.
inline std::string MakeAnimatedGif(int w, int h, int frames) {
  InitVipsForTests();
  vips::VImage strip;
  for (int i = 0; i < frames; ++i) {
    vips::VImage f = (vips::VImage::black(w, h, vips::VImage::option()->set("bands", 3)) +
                      std::vector<double>{60.0 * i, 255.0 - 60.0 * i, 128.0})
                         .cast(VIPS_FORMAT_UCHAR);
    strip = i == 0 ? f : strip.join(f, VIPS_DIRECTION_VERTICAL);
  }
  strip = strip.copy();
  strip.set("page-height", h);
  strip.set("delay", std::vector<int>(static_cast<size_t>(frames), 100));
  strip.set("loop", 0);
  return Blob(strip.gifsave_buffer());
}

inline void PutLe16(std::string& s, uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
inline void PutLe32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
inline void PutBe32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// `jpeg` with an EXIF APP1 segment inserted after SOI: Make = `make`,
// Orientation = `orientation`, and a GPS IFD with latitude N 48 51' 29.64".
inline std::string WithExif(const std::string& jpeg, uint16_t orientation, const std::string& make) {
  std::string t = "II";
  PutLe16(t, 42);
  PutLe32(t, 8);
  // IFD0 at 8: Make, Orientation, GPSInfo.
  const uint32_t ifd0_size = 2 + 3 * 12 + 4;
  const uint32_t make_at = 8 + ifd0_size;
  uint32_t make_len = static_cast<uint32_t>(make.size() + 1);
  uint32_t gps_at = make_at + make_len + (make_len & 1);
  PutLe16(t, 3);
  PutLe16(t, 0x010F), PutLe16(t, 2), PutLe32(t, make_len), PutLe32(t, make_at);  // Make, ASCII
  PutLe16(t, 0x0112), PutLe16(t, 3), PutLe32(t, 1), PutLe16(t, orientation), PutLe16(t, 0);  // SHORT
  PutLe16(t, 0x8825), PutLe16(t, 4), PutLe32(t, 1), PutLe32(t, gps_at);  // GPSInfo, LONG
  PutLe32(t, 0);
  t += make;
  t += '\0';
  if (make_len & 1) t += '\0';
  // GPS IFD: LatitudeRef "N", Latitude 3 rationals after the IFD.
  const uint32_t gps_size = 2 + 2 * 12 + 4;
  PutLe16(t, 2);
  PutLe16(t, 0x0001), PutLe16(t, 2), PutLe32(t, 2);
  t += "N";
  t += std::string(3, '\0');
  PutLe16(t, 0x0002), PutLe16(t, 5), PutLe32(t, 3), PutLe32(t, gps_at + gps_size);
  PutLe32(t, 0);
  for (uint32_t v : {48u, 1u, 51u, 1u, 2964u, 100u}) PutLe32(t, v);
  std::string app1 = "\xFF\xE1";
  uint16_t len = static_cast<uint16_t>(2 + 6 + t.size());
  app1 += static_cast<char>(len >> 8);
  app1 += static_cast<char>(len & 0xff);
  app1 += std::string("Exif\0\0", 6);
  app1 += t;
  return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

inline uint32_t Crc32(const std::string& data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

inline std::string PngChunk(const std::string& type, const std::string& data) {
  std::string out;
  PutBe32(out, static_cast<uint32_t>(data.size()));
  out += type + data;
  PutBe32(out, Crc32(type + data));
  return out;
}

// `png` with a tEXt chunk (key, text) right after IHDR.
inline std::string WithPngText(const std::string& png, const std::string& key, const std::string& text) {
  const size_t after_ihdr = 8 + 8 + 13 + 4;
  return png.substr(0, after_ihdr) + PngChunk("tEXt", key + std::string(1, '\0') + text) + png.substr(after_ihdr);
}

// A valid PNG header declaring w x h RGB pixels, with almost no data: what
// a decompression bomb looks like before anything is decoded.
inline std::string PngBomb(uint32_t w, uint32_t h) {
  std::string ihdr;
  PutBe32(ihdr, w);
  PutBe32(ihdr, h);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, no interlace
  // IDAT: a zlib stream of a stored empty block (too short for the image).
  std::string idat("\x78\x01\x01\x00\x00\xff\xff\x00\x00\x00\x01", 11);
  return std::string("\x89PNG\r\n\x1A\n", 8) + PngChunk("IHDR", ihdr) + PngChunk("IDAT", idat) + PngChunk("IEND", "");
}

// JPEG marker segments before the scan: (marker, payload) pairs.
inline std::vector<std::pair<int, std::string>> JpegSegments(const std::string& jpeg) {
  std::vector<std::pair<int, std::string>> out;
  size_t i = 2;
  while (i + 4 <= jpeg.size() && static_cast<unsigned char>(jpeg[i]) == 0xFF) {
    int marker = static_cast<unsigned char>(jpeg[i + 1]);
    size_t len = (static_cast<unsigned char>(jpeg[i + 2]) << 8) | static_cast<unsigned char>(jpeg[i + 3]);
    out.emplace_back(marker, jpeg.substr(i + 4, len >= 2 ? len - 2 : 0));
    if (marker == 0xDA) break;  // start of scan
    i += 2 + len;
  }
  return out;
}

// PNG chunk types in order.
inline std::vector<std::string> PngChunkTypes(const std::string& png) {
  std::vector<std::string> out;
  size_t i = 8;
  while (i + 8 <= png.size()) {
    uint32_t len = (static_cast<unsigned char>(png[i]) << 24) | (static_cast<unsigned char>(png[i + 1]) << 16) |
                   (static_cast<unsigned char>(png[i + 2]) << 8) | static_cast<unsigned char>(png[i + 3]);
    out.push_back(png.substr(i + 4, 4));
    i += 12 + len;
  }
  return out;
}

}  // namespace gc::test
