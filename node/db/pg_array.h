// PgArray: a PostgreSQL array literal ('{"a","b",NULL}', '{1,2,3}'), built to
// travel as one text parameter ($1::text[], $1::bigint[]) so that a batch of
// values reaches the server in one statement (unnest, = ANY) instead of being
// spliced into SQL.
//
// Every text element is double-quoted with '"' and '\' escaped, so any value
// round-trips, including ones a peer or a user chose (an id with a quote in it
// stays one element and cannot end the literal). nullopt is SQL NULL; numbers
// are written bare.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gc {

class PgArray {
 public:
  PgArray& Add(std::string_view v) {
    Sep();
    s_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') s_ += '\\';
      s_ += c;
    }
    s_ += '"';
    return *this;
  }
  PgArray& Add(const std::string& v) { return Add(std::string_view(v)); }
  PgArray& Add(const char* v) { return Add(std::string_view(v)); }
  PgArray& Add(const std::optional<std::string>& v) {
    if (v) return Add(std::string_view(*v));
    Sep();
    s_ += "NULL";
    return *this;
  }
  PgArray& Add(int64_t v) {
    Sep();
    s_ += std::to_string(v);
    return *this;
  }

  // The literal of every element of a range (strings or integers).
  template <class Range>
  static std::string Of(const Range& values) {
    PgArray a;
    for (const auto& v : values) a.Add(v);
    return a.str();
  }

  bool empty() const { return s_.empty(); }
  std::string str() const { return "{" + s_ + "}"; }

 private:
  void Sep() {
    if (!s_.empty()) s_ += ',';
  }
  std::string s_;
};

}  // namespace gc
