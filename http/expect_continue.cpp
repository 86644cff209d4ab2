#include "http/expect_continue.hpp"

#include <algorithm>
#include <cctype>

namespace riposte::http {

namespace {

constexpr std::size_t max_line = 256; // longer lines are not the one looked for

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool same_letters(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

void expect_scanner::end_line() {
  if (!first_line_ && !line_too_long_) {
    std::string_view l = line_;
    if (auto colon = l.find(':'); colon != std::string_view::npos &&
                                  same_letters(l.substr(0, colon), "expect") &&
                                  same_letters(trim(l.substr(colon + 1)), "100-continue"))
      expects_ = true;
  }
  first_line_ = false;
  line_.clear();
  line_too_long_ = false;
}

bool expect_scanner::feed(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size() && !done_; ++i) {
    if (++seen_ > max_block) {
      done_ = true;
      return false;
    }
    char c = bytes[i];
    if (c != '\n') {
      if (line_.size() < max_line)
        line_.push_back(c);
      else
        line_too_long_ = true;
      continue;
    }
    bool empty = line_.empty() || line_ == "\r";
    if (empty && !first_line_) {
      // The block ended: answer only if the body has not started coming.
      done_ = true;
      return expects_ && i + 1 == bytes.size();
    }
    if (empty && first_line_)
      continue; // blank lines before a request line are skipped (RFC 9112)
    end_line();
  }
  return false;
}

} // namespace riposte::http
