// JSON text written by hand where a json object would cost more than the
// bytes: the per-token events and frames. Every function writes exactly the
// bytes nlohmann::json's dump() would for the same value (UTF-8 kept,
// control characters escaped as lowercase \u00xx, object keys in order).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::events::json_text {

// Whether `s` is well-formed UTF-8 (what dump() accepts).
bool valid_utf8(std::string_view s);

// How many bytes `s` starts with that a JSON string holds as they are:
// ASCII, neither '"' nor '\\' nor a control character (read a word at a
// time; a parser skips them before looking at bytes one by one).
std::size_t plain_run(std::string_view s);

// `value` as a JSON string; malformed UTF-8 goes through dump()'s own
// handling.
void put_quoted(std::string& out, std::string_view value);

// A member's name written in the source (a string literal): checked when
// compiling to need no escape, and kept as `,"name":` to be written with
// one append (a name checked at run time cost ~170 instructions, and a
// streamed token writes about twenty).
class key {
public:
  template <std::size_t N>
  consteval key(const char (&name)[N]) // NOLINT: converts from a literal on purpose
    : size_(N - 1 + 4) {
    static_assert(N - 1 + 4 <= sizeof text_, "a key this long needs a larger buffer");
    text_[0] = ',';
    text_[1] = '"';
    for (std::size_t i = 0; i + 1 < N; ++i) {
      auto c = static_cast<unsigned char>(name[i]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
        throw "a key written as is must be ASCII with nothing to escape";
      text_[2 + i] = name[i];
    }
    text_[N + 1] = '"';
    text_[N + 2] = ':';
  }

  // `"name":`, after a comma when `comma`.
  std::string_view text(bool comma) const noexcept {
    return comma ? std::string_view{text_, size_} : std::string_view{text_ + 1, size_ - 1u};
  }

private:
  char text_[40]{};
  std::size_t size_;
};

// `"key":` after `{` or after a previous member (then with a comma first).
// Keys must be written in nlohmann's order (sorted) to match dump().
void put_key(std::string& out, key name);
void put_string(std::string& out, key name, std::string_view value);
void put_int(std::string& out, key name, std::int64_t value);
// The same for a name known only at run time: checked and escaped then.
void put_name(std::string& out, std::string_view name);

// Any value, as dump() writes it compact with malformed UTF-8 replaced
// (dump_json): the same bytes, written straight into `out` instead of
// through dump()'s per-character output adapter, with runs that need no
// escape copied whole (about 1.5 times as fast on a Response).
void put_json(std::string& out, const nlohmann::json& value);

} // namespace riposte::events::json_text
