#include "events/json_safe.hpp"

#include "events/json_text.hpp"

#include <atomic>

namespace riposte::events {

namespace {

using json = nlohmann::json;

std::atomic<std::size_t> max_depth_setting{default_max_json_depth};

// nlohmann's own DOM builder, with a depth count in front of it: the parse
// stops at the first container past the limit.
class bounded_dom {
public:
  bounded_dom(json& out, std::size_t max_depth)
    : dom_(out, false)
    , max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool key(json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t pos, const std::string& token,
                   const nlohmann::detail::exception& ex) {
    return dom_.parse_error(pos, token, ex);
  }

  bool too_deep() const { return too_deep_; }

private:
  bool enter() {
    if (++depth_ <= max_depth_)
      return true;
    too_deep_ = true;
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
};

void append_escaped_byte(std::string& out, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\x";
  out += hex[c >> 4];
  out += hex[c & 15];
}

// The length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t sequence_at(std::string_view s, std::size_t i) noexcept {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80)
    return 1;
  std::size_t extra = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 0;
  if (extra == 0 || i + extra >= s.size())
    return 0;
  return json_text::valid_utf8(s.substr(i, extra + 1)) ? extra + 1 : 0;
}

} // namespace

void set_max_json_depth(std::size_t depth) noexcept {
  max_depth_setting.store(depth == 0 ? 1 : depth, std::memory_order_relaxed);
}

std::size_t max_json_depth() noexcept {
  return max_depth_setting.load(std::memory_order_relaxed);
}

json parse_json(std::string_view text, std::size_t max_depth, json_failure* why) noexcept {
  try {
    json out;
    bounded_dom sax{out, max_depth};
    bool ok = json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true);
    if (why)
      *why = ok               ? json_failure::none
             : sax.too_deep() ? json_failure::too_deep
                              : json_failure::syntax;
    if (!ok)
      return json(json::value_t::discarded);
    return out;
  } catch (...) { // allocation failure: nothing escapes
    if (why)
      *why = json_failure::syntax;
    return json(json::value_t::discarded);
  }
}

json parse_untrusted(std::string_view text, json_failure* why) noexcept {
  return parse_json(text, max_json_depth(), why);
}

json parse_stored(std::string_view text) noexcept {
  return parse_json(text, max_json_depth() + stored_depth_margin);
}

std::string dump_json(const json& j, int indent) {
  if (indent >= 0)
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
  std::string out;
  json_text::put_json(out, j);
  return out;
}

bool valid_utf8(std::string_view s) noexcept {
  return json_text::valid_utf8(s);
}

bool is_text(std::string_view s) noexcept {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  return valid_utf8(s);
}

std::string scrub_utf8(std::string_view s) {
  if (valid_utf8(s))
    return std::string{s};
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    auto n = sequence_at(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string excerpt(std::string_view s, std::size_t max) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < max) {
    auto c = static_cast<unsigned char>(s[i]);
    auto n = sequence_at(s, i);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      append_escaped_byte(out, c);
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  if (i < s.size())
    out += "\xE2\x80\xA6"; // …
  return out;
}

std::string string_or(const nlohmann::json& obj, std::string_view key, std::string fallback) {
  if (!obj.is_object())
    return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

const nlohmann::json& member(const nlohmann::json& obj, std::string_view key) {
  static const nlohmann::json none;
  if (!obj.is_object())
    return none;
  auto it = obj.find(key);
  return it != obj.end() ? *it : none;
}

} // namespace riposte::events
