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

// `value` as a JSON string; malformed UTF-8 goes through dump()'s own
// handling.
void put_quoted(std::string& out, std::string_view value);

// `"key":` after `{` or after a previous member (then with a comma first).
// Keys must be written in nlohmann's order (sorted) to match dump().
void put_key(std::string& out, std::string_view key);
void put_string(std::string& out, std::string_view key, std::string_view value);
void put_int(std::string& out, std::string_view key, std::int64_t value);

// Any value, as dump() writes it compact with malformed UTF-8 replaced
// (dump_json): the same bytes, written straight into `out` instead of
// through dump()'s per-character output adapter, with runs that need no
// escape copied whole (about 1.5 times as fast on a Response).
void put_json(std::string& out, const nlohmann::json& value);

} // namespace riposte::events::json_text
