// libcurl's write callback for the tools' calls: appends the reply's bytes
// to the std::string given as CURLOPT_WRITEDATA.
#pragma once

#include <cstddef>
#include <string>

namespace riposte::adapters::tools {

inline std::size_t append_reply(char* data, std::size_t size, std::size_t n, void* body) {
  static_cast<std::string*>(body)->append(data, size * n);
  return size * n;
}

} // namespace riposte::adapters::tools
