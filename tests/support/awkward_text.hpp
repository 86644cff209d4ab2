// Pieces of text that trip JSON writers and readers up: quotes, backslashes,
// every kind of control character, multi-byte UTF-8, and malformed UTF-8
// (a cut sequence, a stray byte, a surrogate, an overlong form, past
// U+10FFFF). Tests join a few at random.
#pragma once

#include <string>
#include <vector>

namespace riposte::tests {

inline const std::vector<std::string>& awkward_text() {
  static const std::vector<std::string> pieces{"a",
                                               " ",
                                               "\"",
                                               "\\",
                                               "/",
                                               "\n",
                                               "\r",
                                               "\t",
                                               "\b",
                                               "\f",
                                               std::string(1, '\0'),
                                               "\x01",
                                               "\x1f",
                                               "\x7f",
                                               "\xc3\xa9",
                                               "\xe2\x82\xac",
                                               "\xf0\x9f\x98\x80",
                                               "\xc3",
                                               "\xff",
                                               "\xed\xa0\x80",
                                               "\xc0\xaf",
                                               "\xf4\x90\x80\x80",
                                               "\xe2\x82",
                                               "hello world"};
  return pieces;
}

} // namespace riposte::tests
