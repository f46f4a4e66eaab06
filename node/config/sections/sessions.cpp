// sessions.*: how long a login lasts, and how logins are hashed.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

const Key kSessionsKeys[] = {
    {"idle_timeout_s", Int64Field{GC_CONFIG_REF(sessions.idle_timeout_s), 0, 315360000},
     "A session unused this many seconds ends (its token, tickets and streams); 0: never."},
    {"password_hash_threads", IntField{GC_CONFIG_REF(sessions.password_hash_threads), 1, 64},
     "Threads hashing passwords for logins and registrations (argon2id, password_hash_memory_mib each): the most "
     "that run at once."},
    {"password_hash_nice", IntField{GC_CONFIG_REF(sessions.password_hash_nice), 0, 19},
     "How much lower than the rest of the node the hashing threads run (Linux nice steps): a burst of logins then "
     "takes only the CPU that message traffic leaves; 0 runs them at the node's priority."},
    {"password_hash_memory_mib", IntField{GC_CONFIG_REF(sessions.password_hash_memory_mib), 1, 4096},
     "Memory of one argon2id password hash, in MiB (with libsodium's interactive time cost): what makes a stolen "
     "hash expensive to guess. New hashes use it; a password hashed with another value is hashed again at its next "
     "successful login. Values under 64 are for test suites."},
    {"password_hash_queue", IntField{GC_CONFIG_REF(sessions.password_hash_queue), 0, 100000},
     "Logins and registrations that may wait for a hashing thread; past that they are answered 503 with "
     "Retry-After."},
};

}  // namespace

Section SessionsConfigSection() { return {"sessions", "Login sessions.", kSessionsKeys}; }

}  // namespace gc::config
