// media.fetch: another node's media, in chunks (spec/federation.md 8.6c).
//
// Frames are bounded (MAXMSGSIZE 1 MiB + 4 KiB), media is not (up to
// limits.max_upload_bytes): the reader asks for the bytes from an offset and
// the origin answers at most 512 KiB of them, base64url in the JSON answer
// (about 700 KB of frame), with the whole item's size and sha256 in every
// answer so that the reader can check that all chunks describe the same
// bytes. The reader asks again from where the answer ended until it has all
// of them (services/media/media_remote.cpp drives that and checks the
// result). An avatar is asked for as such (`avatar: true`): the origin
// serves its users' avatars to any peer, other media only through groups.
// Who may have what is the media service's decision
// (MediaService::ChunkForPeer); this file only moves frames.
#include "federation/federation.h"
#include "federation/wire.h"
#include "node/common/encoding.h"
#include "services/media/media_service.h"

namespace gc {

using nlohmann::json;
using namespace wire;

void Federation::HandleMediaFetch(const std::string& peer, const std::string& re, const json& body) {
  if (!IsStr(body, "media_id") || !IsInt(body, "offset")) {
    return AnswerError(peer, re, Error::Invalid("media.fetch needs media_id and offset"));
  }
  if (!media_) return AnswerError(peer, re, Error::NotFound("no such media"));
  if (body.contains("avatar") && !body["avatar"].is_boolean()) {
    return AnswerError(peer, re, Error::Invalid("media.fetch avatar must be a boolean"));
  }
  bool avatar = body.value("avatar", false);
  auto chunk =
      media_->ChunkForPeer(peer, body["media_id"].get<std::string>(), body["offset"].get<int64_t>(), avatar);
  if (!chunk.ok()) return AnswerError(peer, re, chunk.error());
  Answer(peer, re, true,
         {{"media_id", chunk->media_id},
          {"uploader", chunk->uploader},
          {"content_type", chunk->content_type},
          {"filename", chunk->filename},
          {"sha256", chunk->sha256},
          {"size", chunk->size},
          {"offset", chunk->offset},
          {"data", Base64Url(chunk->data)}});
}

Result<RemoteMediaChunk> Federation::FetchMediaChunk(const std::string& origin, const std::string& media_id,
                                                     int64_t offset, bool avatar, std::chrono::milliseconds timeout) {
  json ask = {{"media_id", media_id}, {"offset", offset}};
  if (avatar) ask["avatar"] = true;
  auto answer = Call(origin, "media.fetch", ask, timeout);
  if (!answer.ok()) return answer.error();
  const json& b = *answer;
  for (const char* k : {"media_id", "uploader", "content_type", "filename", "sha256", "data"}) {
    if (!IsStr(b, k)) return Error::Invalid(std::string("the answer has no string ") + k);
  }
  if (!IsInt(b, "size") || !IsInt(b, "offset")) return Error::Invalid("the answer has no integer size and offset");
  auto data = DecodeBase64Url(b["data"].get<std::string>());
  if (!data.ok()) return Error::Invalid("the answer's data is not base64url");
  RemoteMediaChunk c;
  c.media_id = b["media_id"];
  c.uploader = b["uploader"];
  c.content_type = b["content_type"];
  c.filename = b["filename"];
  c.sha256 = b["sha256"];
  c.size = b["size"];
  c.offset = b["offset"];
  c.data = std::move(*data);
  return c;
}

}  // namespace gc
