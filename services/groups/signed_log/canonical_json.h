// Canonical JSON: the one byte string a JSON value has, so that hashes and
// signatures over it agree between implementations. Rules (spec/federation.md
// section 3, with test vectors in spec/test-vectors/canonical_json.json):
//   - UTF-8 output, no insignificant whitespace;
//   - object members sorted by key, bytewise on the UTF-8 encoding (which is
//     code point order); duplicate keys are an error;
//   - strings: `"` and `\` escaped as \" and \\; U+0008, U+0009, U+000A,
//     U+000C, U+000D as \b \t \n \f \r; other U+0000..U+001F as \u00xx (lower
//     case hex); everything else (also U+007F and non-ASCII) as raw UTF-8;
//   - numbers: integers only, from -(2^53 - 1) to 2^53 - 1, in shortest
//     decimal form (no '+', no leading zeros, "-0" is "0"); no fractions or
//     exponents;
//   - true, false, null as such.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "node/common/result.h"

namespace gc {

// Encodes `value`; kInvalid if it holds a float, an integer out of range, or
// a string that is not valid UTF-8.
Result<std::string> CanonicalJson(const nlohmann::json& value);

// Building blocks for canonical bytes of fixed shapes (the chain's E and H),
// written without building a JSON tree: a string (kInvalid if not UTF-8) and
// an integer (kInvalid outside +-(2^53-1)), as CanonicalJson writes them.
Status AppendCanonicalString(std::string& out, std::string_view s);
Status AppendCanonicalInt(std::string& out, int64_t v);

// Parses `text` strictly (duplicate keys and invalid UTF-8 are errors,
// nesting at most 64 deep) and returns the value.
Result<nlohmann::json> ParseStrictJson(std::string_view text);

}  // namespace gc
