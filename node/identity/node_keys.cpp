#include "node/identity/node_keys.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace gc {
namespace fs = std::filesystem;

Result<std::string> ReadSecretFile(const std::string& path, size_t size) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Error::NotFound(path);
  if ((st.st_mode & 077) != 0) {
    return Error::Invalid(path + " is readable by other users (mode " + std::to_string(st.st_mode & 0777) +
                          "); run chmod 600 " + path);
  }
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  if (data.size() != size) return Error::Invalid(path + " is damaged: expected " + std::to_string(size) + " bytes");
  return data;
}

Status WriteSecretFile(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::Unavailable("cannot write " + tmp + ": " + strerror(errno));
  fchmod(fd, 0600);
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) return Error::Unavailable("cannot write " + path);
  return OkStatus();
}

Result<NodeKeys> LoadOrCreateNodeKeys(const std::string& data_dir, bool* created) {
  *created = false;
  std::string dir = data_dir + "/keys";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::Unavailable("cannot create " + dir + ": " + ec.message());
  chmod(dir.c_str(), 0700);
  NodeKeys k;
  std::string id_path = dir + "/identity.key";
  auto id = ReadSecretFile(id_path, crypto_sign_SECRETKEYBYTES);
  if (!id.ok() && id.error().code != ErrorCode::kNotFound) return id.error();
  if (id.ok()) {
    k.identity_secret = *id;
  } else {
    k.identity_secret.resize(crypto_sign_SECRETKEYBYTES);
    std::string pk(crypto_sign_PUBLICKEYBYTES, '\0');
    crypto_sign_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                        reinterpret_cast<unsigned char*>(k.identity_secret.data()));
    GC_TRY(WriteSecretFile(id_path, k.identity_secret));
    *created = true;
  }
  k.identity_public.resize(crypto_sign_PUBLICKEYBYTES);
  crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(k.identity_public.data()),
                               reinterpret_cast<const unsigned char*>(k.identity_secret.data()));

  std::string tr_path = dir + "/transport.key";
  auto tr = ReadSecretFile(tr_path, crypto_box_SECRETKEYBYTES);
  if (!tr.ok() && tr.error().code != ErrorCode::kNotFound) return tr.error();
  if (tr.ok()) {
    k.transport_secret = *tr;
  } else {
    k.transport_secret.resize(crypto_box_SECRETKEYBYTES);
    randombytes_buf(k.transport_secret.data(), k.transport_secret.size());
    GC_TRY(WriteSecretFile(tr_path, k.transport_secret));
    *created = true;
  }
  k.transport_public.resize(crypto_box_PUBLICKEYBYTES);
  crypto_scalarmult_base(reinterpret_cast<unsigned char*>(k.transport_public.data()),
                         reinterpret_cast<const unsigned char*>(k.transport_secret.data()));
  k.key_id = "ed25519:" + Base64Url(k.identity_public).substr(0, 8);
  // Retired identity keys.
  std::string old_dir = dir + "/old";
  if (fs::is_directory(old_dir, ec)) {
    for (const auto& f : fs::directory_iterator(old_dir, ec)) {
      if (f.path().extension() != ".key") continue;
      auto sec = ReadSecretFile(f.path().string(), crypto_sign_SECRETKEYBYTES);
      if (!sec.ok()) return sec.error();
      OldIdentityKey o;
      o.secret_key = *sec;
      o.public_key.resize(crypto_sign_PUBLICKEYBYTES);
      crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(o.public_key.data()),
                                   reinterpret_cast<const unsigned char*>(o.secret_key.data()));
      o.key_id = "ed25519:" + Base64Url(o.public_key).substr(0, 8);
      struct stat st;
      if (stat(f.path().c_str(), &st) == 0) o.retired_ms = static_cast<int64_t>(st.st_mtime) * 1000;
      k.old_keys.push_back(std::move(o));
    }
    std::sort(k.old_keys.begin(), k.old_keys.end(),
              [](const OldIdentityKey& a, const OldIdentityKey& b) { return a.retired_ms < b.retired_ms; });
  }
  return k;
}

Result<NodeKeys> RotateIdentityKey(const std::string& data_dir) {
  bool created = false;
  auto current = LoadOrCreateNodeKeys(data_dir, &created);
  if (!current.ok()) return current.error();
  std::string dir = data_dir + "/keys";
  std::error_code ec;
  fs::create_directories(dir + "/old", ec);
  if (ec) return Error::Unavailable("cannot create " + dir + "/old: " + ec.message());
  chmod((dir + "/old").c_str(), 0700);
  std::string name = current->key_id.substr(current->key_id.find(':') + 1);
  GC_TRY(WriteSecretFile(dir + "/old/" + name + ".key", current->identity_secret));
  std::string sk(crypto_sign_SECRETKEYBYTES, '\0'), pk(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(pk.data()), reinterpret_cast<unsigned char*>(sk.data()));
  GC_TRY(WriteSecretFile(dir + "/identity.key", sk));
  return LoadOrCreateNodeKeys(data_dir, &created);
}

std::string RotationBytes(const std::string& name, const std::string& old_key_id, const std::string& key_id,
                          const std::string& public_key_b64) {
  // Keys sorted: canonical JSON of four strings (all ASCII here).
  nlohmann::json j = {{"key_id", key_id}, {"name", name}, {"old_key_id", old_key_id}, {"public_key", public_key_b64}};
  return j.dump();
}

}  // namespace gc
