// Fuzz target: the URL guard's parser and address verdicts. Input: a URL, or
// after a newline an address literal and an allow-list CIDR.
#include "adapters/fetch/guarded_fetch.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace f = riposte::adapters::fetch;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto nl = in.find('\n');
  std::string first{in.substr(0, nl)};
  if (first.find('\0') != std::string::npos)
    return 0; // C strings below
  if (auto target = f::parse_fetch_url(first); target) {
    if (target->scheme != "http" && target->scheme != "https")
      __builtin_trap();
    (void)f::check_address(target->host, {});
  }
  if (nl != std::string_view::npos) {
    std::string cidr{in.substr(nl + 1)};
    if (cidr.find('\0') == std::string::npos) {
      (void)f::valid_cidr(cidr);
      (void)f::check_address(first, {cidr});
    }
  }
  return 0;
}
