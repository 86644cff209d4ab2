// The http-parser callbacks behind http_reader.
#include "adapters/backends/http_reader.hpp"

#include <exception>

namespace riposte::adapters::backends {

namespace {

http_reader& reader_of(http_parser* p) {
  return *static_cast<http_reader*>(p->data);
}

bool interim(unsigned status) {
  return status >= 100 && status < 200;
}

} // namespace

http_reader::http_reader(bool head)
  : head_(head) {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_headers_complete = &http_reader::on_headers_complete;
  settings_.on_body = &http_reader::on_body_data;
  settings_.on_message_complete = &http_reader::on_message_complete;
}

int http_reader::on_headers_complete(http_parser* p) {
  auto& self = reader_of(p);
  if (p->status_code < 100) {
    self.error_ = "malformed reply from the backend: status " + std::to_string(p->status_code);
    return -1;
  }
  if (interim(p->status_code))
    return 1; // no body; the final reply follows
  self.status_ = static_cast<long>(p->status_code);
  return self.head_ ? 1 : 0;
}

int http_reader::on_body_data(http_parser* p, const char* at, std::size_t n) {
  auto& self = reader_of(p);
  if (!self.on_body)
    return 0;
  try {
    self.on_body(self.status_, std::string_view{at, n});
  } catch (...) {
    self.threw_ = std::current_exception();
    return -1;
  }
  return 0;
}

int http_reader::on_message_complete(http_parser* p) {
  auto& self = reader_of(p);
  if (interim(p->status_code))
    return 0; // a 100 Continue: read on
  self.complete_ = true;
  self.keep_alive_ = http_should_keep_alive(p) != 0;
  http_parser_pause(p, 1);
  return 0;
}

bool http_reader::feed(std::string_view bytes) {
  if (bytes.empty())
    return true;
  started_ = true;
  if (complete_) {
    trailing_ = true; // bytes after the reply: the connection is not reused
    return true;
  }
  auto n = http_parser_execute(&parser_, &settings_, bytes.data(), bytes.size());
  if (threw_) {
    auto e = threw_;
    threw_ = nullptr;
    std::rethrow_exception(e);
  }
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_PAUSED) {
    trailing_ = trailing_ || n < bytes.size();
    return true;
  }
  if (err != HPE_OK) {
    if (error_.empty())
      error_ = std::string{"malformed reply from the backend: "} + http_errno_description(err);
    return false;
  }
  if (parser_.upgrade) {
    error_ = "the backend switched protocols";
    return false;
  }
  return true;
}

bool http_reader::closed() {
  if (complete_)
    return true;
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_OK && started_) {
    http_parser_execute(&parser_, &settings_, nullptr, 0); // ends a body that runs to the close
    if (threw_) {
      auto e = threw_;
      threw_ = nullptr;
      std::rethrow_exception(e);
    }
  }
  if (complete_) {
    keep_alive_ = false;
    return true;
  }
  error_ = started_ ? "the backend closed the connection before its reply was complete"
                    : "the backend closed the connection without a reply";
  return false;
}

} // namespace riposte::adapters::backends
