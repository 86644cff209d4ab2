#include "events/json_text.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace riposte::events::json_text {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = c < 0x80           ? 0
                        : (c >> 5) == 0x6  ? 1
                        : (c >> 4) == 0xe  ? 2
                        : (c >> 3) == 0x1e ? 3
                                           : 4;
    if (extra == 4 || i + extra >= s.size())
      return false;
    std::uint32_t cp = extra == 0 ? c : c & (0x3f >> extra);
    for (std::size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid.
    static constexpr std::uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[extra] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return false;
    i += extra + 1;
  }
  return true;
}

namespace {

// Eight bytes at a time (SWAR): whether any byte of a word is one a JSON
// string cannot hold as is ('"', '\\', a control character). Exact for the
// word as a whole: a subtraction borrows only out of a byte that matched, so
// it can mark bytes above a match, never a word without one.
constexpr std::uint64_t ones = 0x0101010101010101ULL;
constexpr std::uint64_t highs = 0x8080808080808080ULL;

constexpr std::uint64_t zero_byte(std::uint64_t w) {
  return (w - ones) & ~w & highs;
}

constexpr bool needs_escape(std::uint64_t w) {
  auto control = (w - ones * 0x20) & ~w & highs; // a byte under 0x20
  return (control | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))) != 0;
}

std::uint64_t word_at(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

bool all_ascii(std::string_view s) {
  std::size_t i = 0;
  std::uint64_t any = 0;
  for (; i + 8 <= s.size(); i += 8)
    any |= word_at(s.data() + i);
  if ((any & highs) != 0)
    return false;
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) >= 0x80)
      return false;
  return true;
}

} // namespace

std::size_t plain_run(std::string_view s) {
  static_assert(std::endian::native == std::endian::little, "the first byte is the lowest");
  const char* p = s.data();
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    auto w = word_at(p + i);
    // Exact in its lowest marked byte, the first that is not plain (a
    // borrow only marks bytes above a match).
    auto control = (w - ones * 0x20) & ~w & highs;
    auto marked =
        control | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\')) | (w & highs);
    if (marked != 0)
      return i + static_cast<std::size_t>(std::countr_zero(marked)) / 8;
  }
  for (; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
      break;
  }
  return i;
}

namespace {

// ASCII with nothing to escape (most keys and values): copied as is.
// Words are read whole, the last one overlapping the one before it; a
// string of four to seven bytes is read as two overlapping halves, and a
// shorter one as its first, middle and last bytes (all of them), padded
// with bytes that need nothing. No call to memcpy for a variable length.
bool plain(std::string_view s) {
  auto plain_word = [](std::uint64_t w) { return !needs_escape(w) && (w & highs) == 0; };
  const char* p = s.data();
  auto n = s.size();
  if (n >= 8) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
      if (!plain_word(word_at(p + i)))
        return false;
    return i == n || plain_word(word_at(p + n - 8));
  }
  if (n >= 4) {
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    std::memcpy(&first, p, sizeof first);
    std::memcpy(&last, p + n - 4, sizeof last);
    return plain_word(first | (std::uint64_t{last} << 32));
  }
  if (n == 0)
    return true;
  auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
  auto padded = (ones * 'a') & ~std::uint64_t{0xffffff};
  return plain_word(padded | byte(0) | (byte(n / 2) << 8) | (byte(n - 1) << 16));
}

// `pre"s"post` (no `pre` or `post` where they are '\0') for an `s` that
// needs no escape, grown once: a Response renders a few hundred strings,
// and three appends each cost three calls into the string.
void put_plain(std::string& out, char pre, std::string_view s, char post) {
  auto at = out.size();
  auto size = s.size() + 2 + (pre != '\0') + (post != '\0');
  out.resize(at + size);
  char* p = out.data() + at;
  if (pre != '\0')
    *p++ = pre;
  *p++ = '"';
  std::memcpy(p, s.data(), s.size());
  p += s.size();
  *p++ = '"';
  if (post != '\0')
    *p = post;
}

// put_quoted between `pre` and `post` (each '\0' for none).
void put_quoted_between(std::string& out, char pre, std::string_view value, char post) {
  if (plain(value))
    return put_plain(out, pre, value, post);
  if (pre != '\0')
    out += pre;
  put_quoted(out, value);
  if (post != '\0')
    out += post;
}

} // namespace

void put_quoted(std::string& out, std::string_view value) {
  if (plain(value))
    return put_plain(out, '\0', value, '\0');
  if (!all_ascii(value) && !valid_utf8(value)) {
    out +=
        nlohmann::json(std::string{value})
            .dump(
                -1, ' ', false,
                nlohmann::json::error_handler_t::replace); // malformed text: U+FFFD, never a throw
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + value.size() + 2);
  out += '"';
  // Runs that need no escape are copied whole, found a word at a time.
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < value.size()) {
    if (i + 8 <= value.size() && !needs_escape(word_at(value.data() + i))) {
      i += 8;
      continue;
    }
    auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(value.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(value.data() + run, value.size() - run);
  out += '"';
}

namespace {

bool after_member(const std::string& out) {
  return !out.empty() && out.back() != '{';
}

} // namespace

void put_key(std::string& out, key name) {
  out += name.text(after_member(out));
}

void put_name(std::string& out, std::string_view name) {
  put_quoted_between(out, after_member(out) ? ',' : '\0', name, ':');
}

void put_string(std::string& out, key name, std::string_view value) {
  put_key(out, name);
  put_quoted(out, value);
}

void put_int(std::string& out, key name, std::int64_t value) {
  // The name and the digits in one append.
  char text[64];
  auto head = name.text(after_member(out));
  std::memcpy(text, head.data(), head.size());
  auto end = std::to_chars(text + head.size(), text + sizeof text, value).ptr;
  out.append(text, end);
}

void put_json(std::string& out, const nlohmann::json& value) {
  using json = nlohmann::json;
  std::array<char, 64> digits{};
  auto put_integer = [&](auto n) {
    out.append(digits.data(), std::to_chars(digits.data(), digits.data() + digits.size(), n).ptr);
  };
  switch (value.type()) {
    case json::value_t::null: out += "null"; return;
    case json::value_t::boolean: out += value.get_ref<const bool&>() ? "true" : "false"; return;
    case json::value_t::number_integer:
      put_integer(value.get_ref<const json::number_integer_t&>());
      return;
    case json::value_t::number_unsigned:
      put_integer(value.get_ref<const json::number_unsigned_t&>());
      return;
    case json::value_t::number_float: {
      auto x = value.get_ref<const json::number_float_t&>();
      if (!std::isfinite(x)) {
        out += "null"; // as dump() writes NaN and infinities
        return;
      }
      // dump()'s own shortest round-trip form (1.0 stays "1.0").
      auto* end = nlohmann::detail::to_chars(digits.data(), digits.data() + digits.size(), x);
      out.append(digits.data(), end);
      return;
    }
    case json::value_t::string: put_quoted(out, value.get_ref<const json::string_t&>()); return;
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value.get_ref<const json::array_t&>()) {
        if (!first)
          out += ',';
        first = false;
        put_json(out, item);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.get_ref<const json::object_t&>()) {
        put_quoted_between(out, first ? '\0' : ',', key, ':');
        first = false;
        put_json(out, item);
      }
      out += '}';
      return;
    }
    case json::value_t::binary:
    case json::value_t::discarded: break;
  }
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace riposte::events::json_text
