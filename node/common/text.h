// Text checks shared by services: UTF-8 validity and lengths.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace gc {

// Number of code points if `s` is valid UTF-8 (shortest form, no surrogates,
// nothing past U+10FFFF); nullopt otherwise.
std::optional<size_t> Utf8Length(std::string_view s);

// True if `s` holds a C0/C1 control character or DEL (tab and newline are
// allowed when `allow_newlines`).
bool HasControlChars(std::string_view s, bool allow_newlines);

}  // namespace gc
