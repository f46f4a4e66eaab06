// Canonical JSON (services/groups/signed_log/canonical_json.h): the strict parser and the
// canonical encoder on arbitrary bytes. Checks that what parses and encodes
// round-trips (parse -> encode -> parse gives the same value, encoding again
// gives the same bytes), that the canonical form is never longer than any
// text of the same value, and that the string encoder accepts exactly the
// valid UTF-8 strings and writes what the parser reads back.
#include <string>
#include <string_view>

#include "fuzz/fuzz_targets.h"
#include "node/common/text.h"
#include "services/groups/signed_log/canonical_json.h"

namespace gc::fuzz {

int CanonicalJsonTarget(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  std::string quoted;
  const bool utf8 = Utf8Length(text).has_value();
  const bool encoded = AppendCanonicalString(quoted, text).ok();
  FUZZ_CHECK(encoded == utf8);
  if (encoded) {
    auto back = ParseStrictJson(quoted);
    FUZZ_CHECK(back.ok() && back->is_string() && back->get_ref<const std::string&>() == text);
  }

  auto value = ParseStrictJson(text);
  if (!value.ok()) return 0;
  auto canonical = CanonicalJson(*value);
  if (!canonical.ok()) return 0;  // a float, an integer out of range: refused, not crashed
  FUZZ_CHECK(canonical->size() <= text.size());
  auto again = ParseStrictJson(*canonical);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *value);
  auto twice = CanonicalJson(*again);
  FUZZ_CHECK(twice.ok() && *twice == *canonical);
  return 0;
}

}  // namespace gc::fuzz
