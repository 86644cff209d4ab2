// Test support: multipart/form-data uploads to POST /v1/files, built by hand
// so a test can put any bytes in any field.
#pragma once

#include "tests/support/servers.hpp"

#include <string>
#include <utility>
#include <vector>

namespace riposte::tests {

inline const std::string form_boundary = "riposte-test-boundary";

struct form_field {
  form_field(std::string n, std::string v, std::string f = {})
    : name(std::move(n))
    , value(std::move(v))
    , filename(std::move(f)) {}
  std::string name, value, filename; // a filename makes it a file part
};

inline std::string form(const std::vector<form_field>& fields) {
  std::string body;
  for (const auto& f : fields) {
    body += "--" + form_boundary + "\r\nContent-Disposition: form-data; name=\"" + f.name + "\"";
    if (!f.filename.empty())
      body += "; filename=\"" + f.filename + "\"\r\nContent-Type: application/octet-stream";
    body += "\r\n\r\n" + f.value + "\r\n";
  }
  return body + "--" + form_boundary + "--\r\n";
}

inline http_result upload(riposte_server& r, const std::string& body,
                          std::vector<std::string> headers = {}) {
  headers.push_back("Content-Type: multipart/form-data; boundary=" + form_boundary);
  return http_call("POST", r.url("/v1/files"), body, headers);
}

} // namespace riposte::tests
