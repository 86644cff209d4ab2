// The HTTP front door, behind a plain interface: RESTinio lives only in
// server.cpp, so routes and tests never pay for its templates.
#pragma once

#include "events/errc.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace riposte::http {

// A reply streamed in chunks (SSE). Safe to use from any thread, one writer
// at a time.
class chunk_stream {
public:
  virtual ~chunk_stream() = default;
  // Queues bytes; `written` learns whether they reached the socket (false:
  // the client is gone).
  virtual void write(std::string bytes, std::function<void(bool ok)> written) = 0;
  virtual void finish() = 0;
};

struct response;

// What a route learns about a request that the request log should carry.
// Routes fill it in before they reply; the server reads it when answering.
struct request_note {
  std::string tenant;
  std::string response_id;
  std::string model;
  std::int64_t input_items = -1; // a create's input items, when known
};

// One request's way back: a whole response, or a stream.
class exchange {
public:
  virtual ~exchange() = default;
  virtual void reply(response r) = 0;
  virtual std::shared_ptr<chunk_stream>
  stream(const std::string& content_type,
         const std::vector<std::pair<std::string, std::string>>& headers) = 0;
};

struct request {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body as the server read it (not copied); valid while the request is.
  std::string_view body;
  std::shared_ptr<const void> body_owner;
  std::string request_id;                  // the client's x-request-id, or a generated one
  std::shared_ptr<exchange> reply_channel; // for handlers that stream
  std::shared_ptr<request_note> note = std::make_shared<request_note>();

  // Case-insensitive header lookup.
  std::optional<std::string> header(std::string_view name) const;
};

struct response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error_code = {}; // an error reply's OpenAI code, for the request log
};

// Completes one request, from any thread, exactly once.
using reply_fn = std::function<void(response)>;
// A route: answers through `reply`, now or later.
using handler = std::function<void(const request&, reply_fn reply)>;

struct route {
  std::string method;
  std::string pattern; // "/v1/responses/{id}": one segment per placeholder
  std::function<void(const request&, const std::vector<std::string>& params, reply_fn)> handle;
  // The largest body this route takes (0: server_options::max_body_bytes).
  std::uint64_t max_body_bytes = 0;
};

// A WebSocket connection's way out, safe from any thread. Frames go out in
// the order they are given.
class ws_channel {
public:
  virtual ~ws_channel() = default;
  // One text message; `written` learns whether it reached the socket.
  virtual void send_text(std::string text, std::function<void(bool ok)> written = {}) = 0;
  // A ping, for intermediaries that close idle connections.
  virtual void ping() = 0;
  // Sends a close frame with `code` and `reason`, then ends the connection.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Runs `fn` on the connection's own I/O thread, after what it is doing
  // now; dropped once the connection has ended. `fn` must not throw.
  virtual void post(std::function<void()> fn) = 0;
};

// What the application does with one accepted WebSocket: its messages, one
// at a time and in order, then the end (the peer closed, the connection
// broke, or the server ended it). Neither may throw or block.
class ws_session {
public:
  virtual ~ws_session() = default;
  virtual void on_text(std::string message) = 0;
  virtual void on_closed() = 0;
};

// An upgrade to WebSocket on `path` (GET with `Upgrade: websocket`): `accept`
// decides with the request in hand, answering a session or the HTTP reply
// that refuses the upgrade (401, 426, ...). It runs on the I/O thread and
// must not block.
struct ws_route {
  std::string path;
  std::function<std::variant<response, std::shared_ptr<ws_session>>(const request&,
                                                                    std::shared_ptr<ws_channel>)>
      accept;
};

// One answered request, for metrics and the request log.
struct answer {
  std::string route; // the matched pattern ("unmatched" otherwise), never a raw path
  std::string method;
  int status = 0;
  double seconds = 0; // to the response head (streams: to the stream opening)
  std::string request_id;
  std::string error_code; // the OpenAI error code of an error reply
  request_note note;
  std::string request_body; // only with server_options::observe_bodies
};

// Where requests too large for the io thread are handled: `run` takes the
// job to another thread, for bodies (and WebSocket messages) of `from_bytes`
// or more (0: none), so that one of them holds up no other connection.
struct offload_policy {
  std::function<void(std::function<void()>)> run;
  std::uint64_t from_bytes = 64u << 10;
  bool takes(std::size_t bytes) const { return run && from_bytes > 0 && bytes >= from_bytes; }
};

// What one HTTP exchange may cost. RESTinio enforces the byte limits while it
// reads, before routing: a request over one loses its connection without a
// reply (there is no way to answer 413 at that point).
struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  // The io threads; each connection's reading, writing and small requests'
  // handling run on them.
  std::size_t threads = 1;
  // Large bodies: the route (its parse and checks) runs there.
  offload_policy offload;
  std::uint64_t max_body_bytes = 32u << 20; // routes without a limit of their own
  std::size_t max_url_bytes = 16u << 10;
  std::size_t max_header_bytes = 16u << 10; // one header's value (names: 1 KiB)
  std::size_t max_headers = 100;
  // The whole request (headers and body) must arrive within this (slowloris).
  std::chrono::milliseconds read_timeout{60'000};
  // Open connections at once; more wait in the kernel's backlog. While
  // they wait, connections idle (between requests, or never sent a byte) for
  // at least `idle_close_after` are closed, the longest idle first.
  std::size_t max_connections = 1024;
  std::chrono::milliseconds idle_close_after{1000};
  // Requests read ahead on one connection; answered in order.
  std::size_t max_pipelined = 16;
  // Told when the acceptor stalled (an accept failed, e.g. out of descriptors)
  // and was started again.
  std::function<void()> on_accept_restart;
  // Told how many idle connections were closed for connections waiting.
  std::function<void(std::size_t)> on_idle_closed;
  // How long a request may take before RESTinio cuts it (blocking requests
  // and streams included).
  std::chrono::milliseconds request_timeout{std::chrono::hours(1)};
  // Told of every answered request and of requests entering (+1) and leaving (-1).
  std::function<void(const answer&)> on_answer;
  std::function<void(int)> on_flight;
  // Hand request bodies to on_answer (they hold user data: trace logs only).
  bool observe_bodies = false;
  // The largest WebSocket message a client may send (fragments joined);
  // larger closes the connection with 1009 before any of it is kept.
  std::uint64_t ws_max_message_bytes = 64u << 20;
  // Bytes queued for a WebSocket client and not yet written; a client
  // further behind is disconnected (1008).
  std::size_t ws_max_pending_bytes = 16u << 20;
  // A WebSocket peer silent this long is pinged; one that does not answer
  // within as long again is gone (a half-open connection) and the connection
  // ends. A write that makes no progress for twice this long ends it too.
  std::chrono::milliseconds ws_ping_interval{30'000};
};

class server {
public:
  virtual ~server() = default;
  virtual std::uint16_t port() const = 0;
  // Stops accepting, ends the io threads; idempotent.
  virtual void stop() = 0;
};

// Binds and starts serving; a port in use or a bad address is an error value.
events::result<std::unique_ptr<server>> start_server(const server_options& opts,
                                                     std::vector<route> routes,
                                                     std::vector<ws_route> ws_routes = {});

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key.
std::string ws_accept_key(std::string_view client_key);

// Matches `path` against a route pattern, collecting `{param}` segments
// (percent-decoded; whether they are valid text is the caller's check).
bool match_pattern(std::string_view pattern, std::string_view path,
                   std::vector<std::string>& params);

// The edge's byte check of one request: every header value and path
// parameter (`params`, named by `pattern`) is text (events::is_text);
// otherwise the 400 naming it. Query keys and values are checked where they
// are read, by parse_query_string.
std::optional<events::error_info> check_request_bytes(const request& req, std::string_view pattern,
                                                      const std::vector<std::string>& params);

} // namespace riposte::http
