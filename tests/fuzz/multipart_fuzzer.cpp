// Fuzz target: a multipart/form-data upload body (POST /v1/files). The first
// input line is the Content-Type header's value, the rest the body.
#include "http/multipart.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto nl = in.find('\n');
  std::string type = nl == std::string_view::npos ? "multipart/form-data; boundary=b"
                                                  : std::string{in.substr(0, nl)};
  auto body = nl == std::string_view::npos ? in : in.substr(nl + 1);
  auto parts = riposte::http::parse_form_data(type, body);
  if (parts)
    for (const auto& p : *parts)
      if (p.body.data() < body.data() || p.body.data() + p.body.size() > body.data() + body.size())
        __builtin_trap(); // parts point into the body
  return 0;
}
