// The media service's pure parts: content sniffing, media ids, thumbnail
// sizes, the media config keys, and the image processor (libvips with its
// loader blocks) on files made here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "node/config/config.h"
#include "services/media/image_processor.h"
#include "services/media/media_service.h"
#include "services/media/sniff.h"
#include "tests/harness/media_fixtures.h"
#include "tests/unit/unit_files.h"

namespace gc {
namespace {

using test::MakeJpeg;
using test::MakePng;

TEST(MediaSniff, RecognisesImagesByTheirBytes) {
  EXPECT_EQ(SniffContentType(MakeJpeg(8, 8)).content_type, "image/jpeg");
  EXPECT_TRUE(SniffContentType(MakeJpeg(8, 8)).image);
  EXPECT_EQ(SniffContentType(MakePng(8, 8)).content_type, "image/png");
  EXPECT_EQ(SniffContentType(test::MakeWebp(8, 8)).content_type, "image/webp");
  EXPECT_EQ(SniffContentType(test::MakeAnimatedGif(8, 8, 2)).content_type, "image/gif");
}

TEST(MediaSniff, NeverServesActiveContentAsItself) {
  for (const char* active : {"<html><script>alert(1)</script></html>", "  <!DOCTYPE html><p>x",
                             "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
                             "<?xml version=\"1.0\"?><svg/>", "\xEF\xBB\xBF<script>alert(1)</script>",
                             "hello <SCRIPT>alert(1)</SCRIPT>"}) {
    SniffedType t = SniffContentType(active);
    EXPECT_EQ(t.content_type, "application/octet-stream") << active;
    EXPECT_FALSE(t.image);
  }
}

TEST(MediaSniff, PassiveTypesAndText) {
  EXPECT_EQ(SniffContentType("%PDF-1.7\n...").content_type, "application/pdf");
  EXPECT_EQ(SniffContentType(std::string("\0\0\0\x18" "ftypmp42\0\0\0\0", 16)).content_type, "video/mp4");
  EXPECT_EQ(SniffContentType("OggS\0\x02").content_type, "audio/ogg");
  EXPECT_EQ(SniffContentType("PK\x03\x04rest").content_type, "application/zip");
  EXPECT_EQ(SniffContentType("just some notes\nline two\n").content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(SniffContentType("caf\xC3\xA9").content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(SniffContentType(std::string("\x01\x02\x00\xFF", 4)).content_type, "application/octet-stream");
  EXPECT_EQ(SniffContentType("\xC3\x28 bad utf8").content_type, "application/octet-stream");
  EXPECT_FALSE(IsInlineImageType("image/svg+xml"));
  EXPECT_TRUE(IsInlineImageType("image/webp"));
}

TEST(MediaIds, AcceptsServerSlashOpaqueOnly) {
  EXPECT_TRUE(IsValidMediaId("acme.test/Zk3aaaaaaaaaaaaaaaaa"));
  EXPECT_TRUE(IsValidMediaId("acme.test:8443/0123456789abcdef_-AB"));
  for (const char* bad : {"", "acme.test", "acme.test/", "/Zk3aaaaaaaaaaaaaaaaa", "acme.test/short",
                          "acme.test/../../etc/passwd", "acme.test/..%2F..%2Fetc%2Fpasswdxx",
                          "ACME.test/Zk3aaaaaaaaaaaaaaaaa", "acme.test/Zk3aaaaaaaaaaaaaaaaa/x",
                          "acme.test/Zk3aaaaaaaaaaaa aaaaa", "../acme.test/Zk3aaaaaaaaaaaaaaaaa"}) {
    EXPECT_FALSE(IsValidMediaId(bad)) << bad;
  }
  EXPECT_FALSE(IsValidMediaId("acme.test/" + std::string(65, 'a')));
}

TEST(MediaThumbnails, SizesSnapUpToTheFixedSet) {
  EXPECT_EQ(SnapThumbnailSize(1), 96);
  EXPECT_EQ(SnapThumbnailSize(96), 96);
  EXPECT_EQ(SnapThumbnailSize(97), 320);
  EXPECT_EQ(SnapThumbnailSize(320), 320);
  EXPECT_EQ(SnapThumbnailSize(500), 800);
  EXPECT_EQ(SnapThumbnailSize(100000), 800);
}

// ---------------------------------------------------------------------------
// ImageProcessor on real files.

using unit::ReadFile;

class MediaImages : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gc-media-unit-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string dir_;
  ImageProcessor images_{40000000};
};

TEST_F(MediaImages, ReencodedJpegKeepsNoExifAndIsTurnedUpright) {
  std::string jpeg = test::WithExif(MakeJpeg(40, 20), 6, "GCSECRETCAMERA");
  ASSERT_NE(jpeg.find("GCSECRETCAMERA"), std::string::npos);
  std::string in = Write("in.jpg", jpeg);
  auto info = images_.Reencode(in, "image/jpeg", dir_ + "/out.jpg");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->width, 20);  // orientation 6: rotated a quarter turn
  EXPECT_EQ(info->height, 40);
  std::string out = ReadFile(dir_ + "/out.jpg");
  EXPECT_EQ(out.find("Exif"), std::string::npos);
  EXPECT_EQ(out.find("GCSECRETCAMERA"), std::string::npos);
  for (auto& [marker, payload] : test::JpegSegments(out)) {
    EXPECT_FALSE(marker >= 0xE1 && marker <= 0xEF) << "APPn segment " << std::hex << marker << " kept";
    EXPECT_NE(marker, 0xFE) << "comment kept";
  }
}

TEST_F(MediaImages, PngTextChunksAreDropped) {
  std::string png = test::WithPngText(MakePng(16, 16), "Comment", "GCSECRETPNGTEXT");
  auto info = images_.Reencode(Write("in.png", png), "image/png", dir_ + "/out.png");
  ASSERT_TRUE(info.ok()) << info.error().message;
  std::string out = ReadFile(dir_ + "/out.png");
  EXPECT_EQ(out.find("GCSECRETPNGTEXT"), std::string::npos);
  for (auto& type : test::PngChunkTypes(out)) {
    // pHYs: the pixel density every save writes, fixed at 72 dpi by the processor.
    EXPECT_TRUE(type == "IHDR" || type == "IDAT" || type == "IEND" || type == "PLTE" || type == "tRNS" ||
                type == "pHYs")
        << type;
  }
}

TEST_F(MediaImages, PixelBombIsRefusedFromItsHeader) {
  auto r = images_.Probe(Write("bomb.png", test::PngBomb(30000, 30000)), "image/png");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "invalid_media");
  EXPECT_NE(r.error().message.find("30000 x 30000"), std::string::npos) << r.error().message;
}

TEST_F(MediaImages, TruncatedAndGarbageImagesAreInvalidMedia) {
  std::string jpeg = MakeJpeg(200, 200);
  auto r = images_.Reencode(Write("cut.jpg", jpeg.substr(0, jpeg.size() / 2)), "image/jpeg", dir_ + "/o.jpg");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail_code, "invalid_media");
  auto g = images_.Reencode(Write("junk.jpg", std::string("\xFF\xD8\xFF") + std::string(100, 'x')), "image/jpeg",
                            dir_ + "/o2.jpg");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().detail_code, "invalid_media");
}

TEST_F(MediaImages, AFileOfAnotherFormatNeverReachesItsLoader) {
  // A PDF and an SVG offered as PNG: the sniffed type and libvips disagree.
  auto pdf = images_.Probe(Write("x.png", "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"), "image/png");
  EXPECT_FALSE(pdf.ok());
  // And libvips itself refuses the non-image loaders outright.
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>";
  EXPECT_THROW(vips::VImage::new_from_buffer(svg.data(), svg.size(), ""), vips::VError);
  std::string pdf_bytes = "%PDF-1.4\n";
  EXPECT_THROW(vips::VImage::new_from_buffer(pdf_bytes.data(), pdf_bytes.size(), ""), vips::VError);
  EXPECT_THROW(vips::VImage::new_from_file(Write("x.svg", svg).c_str()), vips::VError);
}

TEST_F(MediaImages, AnimatedGifKeepsItsFrames) {
  auto info = images_.Reencode(Write("a.gif", test::MakeAnimatedGif(24, 16, 3)), "image/gif", dir_ + "/o.gif");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->frames, 3);
  EXPECT_EQ(info->width, 24);
  EXPECT_EQ(info->height, 16);
  vips::VImage back = vips::VImage::new_from_file((dir_ + "/o.gif").c_str(), vips::VImage::option()->set("n", -1));
  EXPECT_EQ(vips_image_get_n_pages(back.get_image()), 3);
}

TEST_F(MediaImages, ThumbnailFitsItsBoxAndNeverGrows) {
  std::string in = Write("big.jpg", MakeJpeg(1200, 600));
  auto t = images_.Thumbnail(in, 320, dir_ + "/t.webp");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->width, 320);
  EXPECT_EQ(t->height, 160);
  auto small = images_.Thumbnail(Write("s.jpg", MakeJpeg(50, 40)), 320, dir_ + "/s.webp");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->width, 50);
}

}  // namespace
}  // namespace gc

namespace gc {
namespace {

TEST(MediaConfig, S3NeedsItsKeysAndTheSecretIsNeverShown) {
  std::string base = "node:\n  name: acme.test\n  data_dir: /tmp/x\nmedia:\n  store: s3\n  s3:\n    endpoint: http://127.0.0.1:9000\n";
  auto missing = ParseConfig(base, "node.yaml", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("media.s3.bucket is required when media.store is s3"), std::string::npos)
      << missing.error().message;
  auto ok = ParseConfig(base + "    bucket: media\n    access_key_id: AK\n", "node.yaml",
                        {{"GROUPCHAT_MEDIA_S3_SECRET_ACCESS_KEY", "hunter2-secret"}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->media.s3.secret_access_key, "hunter2-secret");
  EXPECT_EQ(DescribeConfig(*ok).find("hunter2-secret"), std::string::npos);
  auto bad = ParseConfig("node:\n  name: acme.test\n  data_dir: /tmp/x\nmedia:\n  store: ftp\n", "node.yaml", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("filesystem or s3"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace gc
