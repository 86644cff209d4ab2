// One HTTP/1.1 reply read off a backend connection, over the http-parser
// library (the parser RESTinio already links): the status, the body as it
// arrives (chunked, sized or ended by the close), whether the connection may
// carry another request. Interim 1xx replies are skipped. Bytes are the
// backend's: anything malformed is an error, never a crash.
#pragma once

#include <http_parser.h>

#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace riposte::adapters::backends {

class http_reader {
public:
  // `head`: the request was a HEAD (its reply has no body).
  explicit http_reader(bool head = false);
  http_reader(const http_reader&) = delete;
  http_reader& operator=(const http_reader&) = delete;

  // Body bytes, once the final status is known. An exception from it ends
  // the read: feed() rethrows it.
  std::function<void(long status, std::string_view bytes)> on_body;

  // Reads what arrived; false on a protocol error (error() says which), or
  // when bytes follow the end of the reply.
  bool feed(std::string_view bytes);
  // The peer closed: ends a body that runs to the close. False if the reply
  // was not complete.
  bool closed();

  long status() const { return status_; }   // 0 until the final status line
  bool started() const { return started_; } // any byte of a reply came
  bool complete() const { return complete_; }
  // Complete, and the connection may carry another request.
  bool reusable() const { return complete_ && keep_alive_ && !trailing_; }
  const std::string& error() const { return error_; }

private:
  static int on_headers_complete(http_parser* p);
  static int on_body_data(http_parser* p, const char* at, std::size_t n);
  static int on_message_complete(http_parser* p);

  http_parser parser_{};
  http_parser_settings settings_{};
  bool head_ = false;
  bool started_ = false;
  bool complete_ = false;
  bool keep_alive_ = false;
  bool trailing_ = false;
  long status_ = 0;
  std::string error_;
  std::exception_ptr threw_;
};

} // namespace riposte::adapters::backends
