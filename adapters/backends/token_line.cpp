#include "adapters/backends/token_line.hpp"

#include "events/json_text.hpp"

#include <cstdint>

namespace riposte::adapters::backends {

namespace {

class scanner {
public:
  explicit scanner(std::string_view s)
    : s_(s) {}

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }

  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  bool peek(char c) {
    skip_ws();
    return i_ < s_.size() && s_[i_] == c;
  }

  bool at_end() {
    skip_ws();
    return i_ == s_.size();
  }

  bool literal(std::string_view word) {
    skip_ws();
    if (s_.substr(i_, word.size()) != word)
      return false;
    i_ += word.size();
    return true;
  }

  // An integer as JSON writes it (no leading zero, no fraction or
  // exponent) that fits 18 digits.
  bool integer(std::int64_t& out) {
    skip_ws();
    bool negative = i_ < s_.size() && s_[i_] == '-';
    auto at = i_ + (negative ? 1 : 0);
    auto end = at;
    while (end < s_.size() && s_[end] >= '0' && s_[end] <= '9')
      ++end;
    auto digits = end - at;
    if (digits == 0 || digits > 18 || (digits > 1 && s_[at] == '0'))
      return false;
    if (end < s_.size() && (s_[end] == '.' || s_[end] == 'e' || s_[end] == 'E'))
      return false;
    std::int64_t v = 0;
    for (auto k = at; k < end; ++k)
      v = v * 10 + (s_[k] - '0');
    out = negative ? -v : v;
    i_ = end;
    return true;
  }

  // A JSON string, unescaped into `out`.
  bool string(std::string& out) {
    out.clear();
    if (!eat('"'))
      return false;
    bool ascii = true;
    for (;;) {
      auto run = i_;
      i_ += events::json_text::plain_run(s_.substr(i_));
      while (i_ < s_.size() && s_[i_] != '"' && s_[i_] != '\\') {
        auto c = static_cast<unsigned char>(s_[i_]);
        if (c < 0x20)
          return false;
        ascii = ascii && c < 0x80;
        ++i_;
      }
      out.append(s_.data() + run, i_ - run);
      if (i_ >= s_.size())
        return false;
      if (s_[i_++] == '"')
        break;
      if (i_ >= s_.size())
        return false;
      switch (s_[i_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp))
            return false;
          if (cp >= 0xd800 && cp <= 0xdbff) { // a surrogate pair
            std::uint32_t low = 0;
            if (s_.substr(i_, 2) != "\\u")
              return false;
            i_ += 2;
            if (!hex4(low) || low < 0xdc00 || low > 0xdfff)
              return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return false;
          }
          put_utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
    return ascii || events::json_text::valid_utf8(out);
  }

private:
  bool hex4(std::uint32_t& v) {
    if (s_.size() - i_ < 4)
      return false;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// The members of an object, each handed to `member(key)`, which reads the
// value and says whether it could.
template <class F>
bool object(scanner& sc, std::string& key, F member) {
  if (!sc.eat('{'))
    return false;
  if (sc.eat('}'))
    return true;
  do {
    if (!sc.string(key) || !sc.eat(':') || !member(key))
      return false;
  } while (sc.eat(','));
  return sc.eat('}');
}

} // namespace

bool read_ollama_line(std::string_view line, std::string& content, std::string& thinking,
                      line_end& end) {
  scanner sc{line};
  std::string key, inner_key, ignored;
  content.clear();
  thinking.clear();
  end = line_end{};
  std::int64_t dropped = 0;
  bool ok = object(sc, key, [&](std::string_view k) {
    if (k == "model" || k == "created_at")
      return sc.string(ignored);
    if (k == "done") {
      end.done = sc.literal("true");
      return end.done || sc.literal("false");
    }
    if (k == "done_reason")
      return sc.string(end.done_reason);
    if (k == "prompt_eval_count")
      return sc.integer(end.prompt_eval_count);
    if (k == "eval_count")
      return sc.integer(end.eval_count);
    if (k == "total_duration" || k == "load_duration" || k == "prompt_eval_duration" ||
        k == "eval_duration")
      return sc.integer(dropped);
    if (k == "message") {
      content.clear(); // a repeated member replaces the earlier one
      thinking.clear();
      return object(sc, inner_key, [&](std::string_view m) {
        if (m == "role")
          return sc.string(ignored);
        if (m == "content")
          return sc.string(content);
        if (m == "thinking")
          return sc.string(thinking);
        return false;
      });
    }
    return false;
  });
  return ok && sc.at_end();
}

bool read_token_line(std::string_view line, std::string& content, std::string& thinking) {
  line_end end;
  return read_ollama_line(line, content, thinking, end) && !end.done;
}

} // namespace riposte::adapters::backends
