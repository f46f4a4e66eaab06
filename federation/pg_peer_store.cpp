#include "federation/pg_peer_store.h"

#include "node/common/encoding.h"
#include "node/db/pg.h"

namespace gc {

namespace {

GC_SQL(kFedLoadPeers,
       "SELECT name, identity_key, key_id, transport_key, endpoint, first_seen, last_seen, admin_state, "
       "key_conflict, last_error FROM fed_peers");
GC_SQL(kFedInsertPeer,
       "INSERT INTO fed_peers (name, identity_key, key_id, transport_key, endpoint, first_seen, last_seen) "
       "VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO UPDATE SET identity_key = EXCLUDED.identity_key, "
       "key_id = EXCLUDED.key_id, transport_key = EXCLUDED.transport_key, endpoint = EXCLUDED.endpoint, "
       "last_seen = EXCLUDED.last_seen, key_conflict = NULL "
       // A row an admin created (block/allow before first contact) has no key yet.
       "WHERE fed_peers.identity_key = EXCLUDED.identity_key OR fed_peers.identity_key = ''");
GC_SQL(kFedKeyConflict, "UPDATE fed_peers SET key_conflict = $2 WHERE name = $1");
GC_SQL(kFedAcceptKey,
       "UPDATE fed_peers SET identity_key = '', key_conflict = NULL WHERE name = $1 AND key_conflict IS NOT NULL");
GC_SQL(kFedSetAdminState,
       "INSERT INTO fed_peers (name, identity_key, key_id, transport_key, endpoint, first_seen, last_seen, admin_state) "
       "VALUES ($1, '', '', '', '', $3, 0, $2) ON CONFLICT (name) DO UPDATE SET admin_state = EXCLUDED.admin_state");
GC_SQL(kFedPinned, "SELECT identity_key, key_id FROM fed_peers WHERE name = $1");
GC_SQL(kFedRetireKey,
       "INSERT INTO fed_peer_keys (name, key_id, key, retired_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING");
GC_SQL(kFedRotate,
       "UPDATE fed_peers SET identity_key = $2, key_id = $3, transport_key = $4, endpoint = $5, last_seen = $6, "
       "key_conflict = NULL WHERE name = $1 AND identity_key = $7");
GC_SQL(kFedLoadOldKeys, "SELECT name, key_id, key FROM fed_peer_keys");
GC_SQL(kFedTouch, "UPDATE fed_peers SET last_seen = $2 WHERE name = $1");
GC_SQL(kFedRecordError, "UPDATE fed_peers SET last_error = $2 WHERE name = $1");

}  // namespace

Result<std::vector<PeerInfo>> PgPeerStore::LoadPeers() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedLoadPeers); });
  if (!r.ok()) return r.error();
  std::vector<PeerInfo> out;
  for (int i = 0; i < r->rows(); ++i) {
    PeerInfo p;
    p.name = r->text(i, 0);
    auto id = DecodeBase64Url(r->text(i, 1));
    auto tk = DecodeBase64Url(r->text(i, 3));
    p.identity_key = id.ok() ? *id : "";
    p.key_id = r->text(i, 2);
    p.transport_key = tk.ok() ? *tk : "";
    p.endpoint = r->text(i, 4);
    p.first_seen = r->int64(i, 5);
    p.last_seen = r->int64(i, 6);
    p.admin_state = r->text(i, 7);
    p.key_conflict = r->opt_text(i, 8);
    p.last_error = r->opt_text(i, 9);
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<RetiredPeerKey>> PgPeerStore::LoadRetiredKeys() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedLoadOldKeys); });
  if (!r.ok()) return r.error();
  std::vector<RetiredPeerKey> out;
  for (int i = 0; i < r->rows(); ++i) {
    auto k = DecodeBase64Url(r->text(i, 2));
    if (k.ok()) out.push_back({r->text(i, 0), r->text(i, 1), *k});
  }
  return out;
}

Result<bool> PgPeerStore::Pin(const PeerInfo& p, int64_t now) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kFedInsertPeer,
                  {p.name, Base64Url(p.identity_key), p.key_id, Base64Url(p.transport_key), p.endpoint, now});
  });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Result<std::optional<PeerStore::PinnedKey>> PgPeerStore::Pinned(const std::string& name) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedPinned, {name}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<PinnedKey>();
  auto key = DecodeBase64Url(r->text(0, 0));
  if (!key.ok()) return std::optional<PinnedKey>();
  return std::optional<PinnedKey>(PinnedKey{*key, r->text(0, 1)});
}

Status PgPeerStore::Rotate(const PeerInfo& p, const PinnedKey& old, int64_t now) {
  std::string old_text = Base64Url(old.key);
  return db_.With([&](PgConn& c) -> Status {
    GC_TRY(StatusOf(c.Exec(kFedRetireKey, {p.name, old.key_id, old_text, now})));
    return StatusOf(c.Exec(kFedRotate, {p.name, Base64Url(p.identity_key), p.key_id, Base64Url(p.transport_key),
                                    p.endpoint, now, old_text}));
  });
}

Status PgPeerStore::MarkKeyConflict(const std::string& name, const std::string& key) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedKeyConflict, {name, Base64Url(key)}); }));
}

Result<bool> PgPeerStore::AcceptNewKey(const std::string& name) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedAcceptKey, {name}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Status PgPeerStore::SetAdminState(const std::string& name, const std::string& state, int64_t now) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedSetAdminState, {name, state, now}); }));
}

Status PgPeerStore::Touch(const std::string& name, int64_t last_seen) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedTouch, {name, last_seen}); }));
}

Status PgPeerStore::RecordError(const std::string& name, const std::string& error) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedRecordError, {name, error}); }));
}

}  // namespace gc
