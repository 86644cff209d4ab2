#include "adapters/backends/token_estimate.hpp"

#include "events/json_safe.hpp"

#include <cstddef>
#include <vector>

namespace riposte::adapters::backends {

namespace {

using json = nlohmann::json;

enum class cls : std::uint8_t { letter, digit, newline, space, punct };

// Code points of UTF-8 text; an invalid byte stands for itself.
std::vector<char32_t> decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int extra = b < 0x80           ? 0
                : (b >> 5) == 0x6  ? 1
                : (b >> 4) == 0xE  ? 2
                : (b >> 3) == 0x1E ? 3
                                   : -1;
    if (extra < 0 || i + static_cast<std::size_t>(extra) >= s.size()) {
      out.push_back(b);
      ++i;
      continue;
    }
    char32_t cp = extra == 0 ? b : b & (0x3F >> extra);
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      ok = ok && (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (!ok) {
      out.push_back(b);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

cls classify(char32_t c) {
  if (c == '\n' || c == '\r')
    return cls::newline;
  if (c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == 0xA0 || c == 0x3000 ||
      (c >= 0x2000 && c <= 0x200A))
    return cls::space;
  if (c >= '0' && c <= '9')
    return cls::digit;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return cls::letter;
  if (c < 0xC0 || (c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
      (c >= 0xFF00 && c <= 0xFF20) || (c >= 0x1F000 && c <= 0x1FAFF))
    return cls::punct; // ASCII and Latin-1 symbols, general punctuation, CJK marks, emoji
  return cls::letter;
}

bool cjk(char32_t c) {
  return c >= 0x2E80 && !(c >= 0xAC00 && c <= 0xD7AF) && c < 0x1F000;
}

// Tuned against Llama 3's tokenizer on prose, code, JSON and five scripts:
// an ASCII word part of up to 8 letters is one token, then one per 3 more;
// a CJK character 0.7 of one; other scripts one per 2 letters.
constexpr std::size_t word_letters = 8, letters_per_extra = 3;

std::int64_t word_part(const char32_t* b, const char32_t* e) {
  std::size_t ascii = 0, wide = 0, other = 0;
  for (auto* p = b; p != e; ++p)
    (*p < 0x80 ? ascii : cjk(*p) ? wide : other) += 1;
  double t = 0;
  if (ascii > 0)
    t += ascii <= word_letters
             ? 1.0
             : 1.0 + static_cast<double>((ascii - word_letters + letters_per_extra - 1) /
                                         letters_per_extra);
  t += 0.7 * static_cast<double>(wide) + static_cast<double>(other) / 2.0;
  auto n = static_cast<std::int64_t>(t + 0.5);
  return n < 1 ? 1 : n;
}

// A run of letters: camelCase humps are separate parts.
std::int64_t word(const char32_t* b, const char32_t* e) {
  std::int64_t n = 0;
  auto* start = b;
  for (auto* p = b + 1; p < e; ++p)
    if (*(p - 1) >= 'a' && *(p - 1) <= 'z' && *p >= 'A' && *p <= 'Z') {
      n += word_part(start, p);
      start = p;
    }
  return n + word_part(start, e);
}

} // namespace

std::int64_t estimate_tokens(std::string_view text) {
  auto c = decode(text);
  const std::size_t n = c.size();
  auto at = [&](std::size_t i) { return i < n ? classify(c[i]) : cls::newline; };
  std::int64_t tokens = 0;
  std::size_t i = 0;
  while (i < n) {
    auto k = classify(c[i]);
    // A letter run, with one leading non-letter, non-digit, non-newline.
    if (k == cls::letter ||
        (k != cls::digit && k != cls::newline && i + 1 < n && at(i + 1) == cls::letter)) {
      std::size_t j = k == cls::letter ? i : i + 1, start = j;
      while (j < n && at(j) == cls::letter)
        ++j;
      tokens += word(c.data() + start, c.data() + j);
      i = j;
    } else if (k == cls::digit) { // digits in threes
      std::size_t j = i;
      while (j < n && at(j) == cls::digit)
        ++j;
      tokens += static_cast<std::int64_t>((j - i + 2) / 3);
      i = j;
    } else if (k == cls::punct || (c[i] == ' ' && at(i + 1) == cls::punct)) {
      // A punctuation run, with one leading space and trailing newlines.
      std::size_t j = k == cls::punct ? i : i + 1, start = j;
      while (j < n && at(j) == cls::punct)
        ++j;
      while (j < n && at(j) == cls::newline)
        ++j;
      std::size_t len = 0;
      for (auto p = start; p < j; ++p)
        len += at(p) == cls::punct ? 1 : 0;
      tokens += 1 + static_cast<std::int64_t>(len > 1 ? (len - 1 + 2) / 3 : 0);
      i = j;
    } else { // whitespace
      std::size_t j = i, last_newline = n;
      while (j < n && (at(j) == cls::space || at(j) == cls::newline)) {
        if (at(j) == cls::newline)
          last_newline = j;
        ++j;
      }
      bool more = j < n;
      if (last_newline != n) {
        ++tokens; // the newlines, with the spaces before them
        auto rest = j - last_newline - 1;
        if (rest > 1 || (rest == 1 && more && at(j) != cls::letter && at(j) != cls::digit))
          ++tokens; // indentation (its last space joins the next word)
      } else if (!more || j - i > 1) {
        ++tokens; // trailing spaces, or a run whose last space joins the next word
      }
      i = j;
    }
  }
  return tokens;
}

namespace {

std::int64_t text_of(const json& v) {
  if (v.is_string())
    return estimate_tokens(v.get_ref<const std::string&>());
  if (v.is_null())
    return 0;
  return estimate_tokens(events::dump_json(v));
}

} // namespace

std::int64_t estimate_message_tokens(const json& m) {
  if (!m.is_object())
    return 0;
  auto field = [&m](const char* key) -> const json* {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &*it;
  };
  std::int64_t tokens = tokens_per_message;
  if (const auto* content = field("content"); content != nullptr && content->is_array()) {
    // Chat Completions parts: text, and images at a fixed cost.
    for (const auto& part : *content)
      if (part.is_object() && part.contains("image_url"))
        tokens += tokens_per_image;
      else if (part.is_object() && part.contains("text"))
        tokens += text_of(part["text"]);
  } else if (content != nullptr) {
    tokens += text_of(*content);
  }
  // Reasoning sent back, under whichever name the backend reads.
  for (const char* key : {"thinking", "reasoning", "reasoning_content"})
    if (const auto* thinking = field(key))
      tokens += text_of(*thinking);
  if (const auto* calls = field("tool_calls"); calls != nullptr && calls->is_array())
    for (const auto& call : *calls) {
      auto fn = call.is_object() ? call.find("function") : call.end();
      if (fn == call.end() || !fn->is_object())
        continue;
      if (auto name = fn->find("name"); name != fn->end())
        tokens += text_of(*name);
      if (auto args = fn->find("arguments"); args != fn->end())
        tokens += text_of(*args);
    }
  if (const auto* images = field("images"); images != nullptr && images->is_array())
    tokens += tokens_per_image * static_cast<std::int64_t>(images->size());
  return tokens;
}

std::int64_t estimate_tools_tokens(const json& tools) {
  return tools.is_array() && !tools.empty() ? text_of(tools) : 0;
}

std::int64_t estimate_chat_tokens(const json& body) {
  std::int64_t tokens = tokens_per_prompt;
  if (auto messages = body.find("messages"); messages != body.end() && messages->is_array())
    for (const auto& m : *messages)
      tokens += estimate_message_tokens(m);
  if (auto tools = body.find("tools"); tools != body.end())
    tokens += estimate_tools_tokens(*tools);
  return tokens;
}

} // namespace riposte::adapters::backends
