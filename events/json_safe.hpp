// Untrusted text in and out of JSON without a throw: a parser whose nesting
// depth is bounded while it parses (not by a recursive walk afterwards), a
// dump that replaces malformed UTF-8 instead of throwing, and the UTF-8
// checks and short excerpts the edge uses. Every recursive walk elsewhere
// (schemas, token estimates, rendering) is bounded because its input came
// through here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace riposte::events {

// The deepest nesting (arrays and objects) a request body, a backend reply
// or a client-supplied schema may have: --max-json-depth, set once at start.
inline constexpr std::size_t default_max_json_depth = 64;
void set_max_json_depth(std::size_t depth) noexcept;
std::size_t max_json_depth() noexcept;
// Stored data nests a request's values a few levels deeper (envelopes,
// snapshots, contexts): what reads the store allows this much more.
inline constexpr std::size_t stored_depth_margin = 32;

enum class json_failure { none, syntax, too_deep };

// `text` as JSON, or a discarded value (is_discarded()) with `why` set.
// Never throws; `max_depth` containers may nest, one more fails at once.
nlohmann::json parse_json(std::string_view text, std::size_t max_depth,
                          json_failure* why = nullptr) noexcept;
// With the process limit (max_json_depth()).
nlohmann::json parse_untrusted(std::string_view text, json_failure* why = nullptr) noexcept;
// For what riposte itself stored: the limit plus stored_depth_margin.
nlohmann::json parse_stored(std::string_view text) noexcept;

// dump() that never throws: malformed UTF-8 becomes U+FFFD.
std::string dump_json(const nlohmann::json& j, int indent = -1);

// A member's string, or `fallback` when `obj` is not an object or the member
// is absent or not a string (json::value would throw on a wrong type).
std::string string_or(const nlohmann::json& obj, std::string_view key, std::string fallback = {});
// A member read in place (no copy, unlike json::value), or a null when `obj`
// is not an object or has no such member.
const nlohmann::json& member(const nlohmann::json& obj, std::string_view key);

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF). NUL is valid UTF-8; callers that want text check it themselves.
bool valid_utf8(std::string_view s) noexcept;
// Text a request may carry in a header, a query or a path: well-formed UTF-8
// without control characters (tab allowed).
bool is_text(std::string_view s) noexcept;
// `s` with every malformed sequence replaced by U+FFFD.
std::string scrub_utf8(std::string_view s);
// A short, printable, valid-UTF-8 echo of an untrusted value for an error
// message: at most `max` bytes of it, control bytes and malformed sequences
// shown as \xNN, and "…" when cut.
std::string excerpt(std::string_view s, std::size_t max = 64);

} // namespace riposte::events
