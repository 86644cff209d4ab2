// The only RESTinio translation unit: binds, reads requests into plain
// `request` values, dispatches them to routes and writes their replies.
#include "http/server.hpp"

#include "http/errors.hpp"

#include <restinio/all.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <random>

namespace riposte::http {

namespace {

std::string generate_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "req_";
  for (int i = 0; i < 32; ++i)
    id.push_back(hex[rng() & 15u]);
  return id;
}

// A client's request id is echoed only when it is short and printable.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id)
    if (std::isprint(static_cast<unsigned char>(c)) == 0)
      return false;
  return true;
}

struct plain_traits : public restinio::default_traits_t {};

class restinio_stream final : public chunk_stream {
public:
  using builder_t = restinio::response_builder_t<restinio::chunked_output_t>;
  explicit restinio_stream(builder_t builder)
    : builder_(std::move(builder)) {}

  void write(std::string bytes, std::function<void(bool)> written) override {
    std::lock_guard guard{mutex_};
    if (done_) {
      if (written)
        written(false);
      return;
    }
    builder_.append_chunk(std::move(bytes));
    builder_.flush([written = std::move(written)](const auto& ec) {
      if (written)
        written(!ec);
    });
  }

  void finish() override {
    std::lock_guard guard{mutex_};
    if (done_)
      return;
    done_ = true;
    builder_.done();
  }

private:
  std::mutex mutex_;
  builder_t builder_;
  bool done_ = false;
};

std::string reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

restinio::request_handling_status_t restinio_server_reply(const restinio::request_handle_t& req,
                                                          const std::string& request_id,
                                                          response out) {
  auto builder = req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(out.status)}, reason(out.status)});
  builder.append_header(restinio::http_field::content_type, out.content_type);
  if (!request_id.empty())
    builder.append_header("x-request-id", request_id);
  for (auto& [name, value] : out.headers)
    builder.append_header(name, value);
  builder.set_body(std::move(out.body));
  builder.done();
  return restinio::request_accepted();
}

// What the server tells its observer about one request, once.
struct exchange_observer {
  std::function<void(const answer&)> on_answer;
  std::function<void(int)> on_flight;
  bool observe_bodies = false;
};

class restinio_exchange final : public exchange {
public:
  restinio_exchange(restinio::request_handle_t req, const request& in,
                    const exchange_observer* observer)
    : req_(std::move(req))
    , request_id_(in.request_id)
    , method_(in.method)
    , note_(in.note)
    , observer_(observer)
    , start_(std::chrono::steady_clock::now()) {
    if (observer_ && observer_->on_flight)
      observer_->on_flight(+1);
  }

  void set_route(std::string route) { route_ = std::move(route); }

  void reply(response out) override {
    answered(out.status, out.error_code);
    restinio_server_reply(req_, request_id_, std::move(out));
  }

  std::shared_ptr<chunk_stream>
  stream(const std::string& content_type,
         const std::vector<std::pair<std::string, std::string>>& headers) override {
    answered(200);
    auto builder = req_->create_response<restinio::chunked_output_t>();
    builder.append_header(restinio::http_field::content_type, content_type);
    builder.append_header("x-request-id", request_id_);
    for (const auto& [name, value] : headers)
      builder.append_header(name, value);
    builder.flush();
    return std::make_shared<restinio_stream>(std::move(builder));
  }

private:
  void answered(int status, const std::string& error_code = {}) {
    if (done_.exchange(true) || observer_ == nullptr)
      return;
    if (observer_->on_answer) {
      answer a{route_,
               method_,
               status,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
               request_id_,
               error_code,
               *note_,
               {}};
      if (observer_->observe_bodies)
        a.request_body = req_->body();
      observer_->on_answer(a);
    }
    if (observer_->on_flight)
      observer_->on_flight(-1);
  }

  restinio::request_handle_t req_;
  std::string request_id_;
  std::string method_;
  std::shared_ptr<request_note> note_;
  std::string route_ = "unmatched";
  const exchange_observer* observer_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> done_{false};
};

class restinio_server final : public server {
public:
  using handle_t = restinio::running_server_handle_t<plain_traits>;

  restinio_server(std::vector<route> routes)
    : routes_(std::move(routes)) {}

  ~restinio_server() override { stop(); }

  events::status start(const server_options& opts) {
    auto self = this;
    max_body_bytes_ = opts.max_body_bytes;
    auto largest = opts.max_body_bytes;
    for (const auto& r : routes_)
      largest = std::max(largest, r.max_body_bytes);
    observer_ = exchange_observer{opts.on_answer, opts.on_flight, opts.observe_bodies};
    try {
      handle_ = restinio::run_async<plain_traits>(
          restinio::own_io_context(),
          restinio::server_settings_t<plain_traits>{}
              .address(opts.host)
              .port(opts.port)
              .handle_request_timeout(opts.request_timeout)
              .write_http_response_timelimit(opts.request_timeout)
              .incoming_http_msg_limits(
                  // Up to twice the limit a body is read and answered with 413;
                  // beyond that the connection is closed before reading it.
                  // (The largest limit of any route: per-route limits are
                  // checked once the route is known.)
                  restinio::incoming_http_msg_limits_t{}.max_body_size(largest * 2))
              .socket_options_setter([](auto& options) {
                options.set_option(restinio::asio_ns::ip::tcp::no_delay{true});
              })
              .acceptor_post_bind_hook([self](restinio::asio_ns::ip::tcp::acceptor& acceptor) {
                self->port_ = acceptor.local_endpoint().port();
              })
              .request_handler(
                  [self](restinio::request_handle_t req) { return self->handle(req); }),
          opts.threads);
    } catch (const std::exception& ex) {
      return events::make_error(events::riposte_errc::internal,
                                "cannot listen on " + opts.host + ":" + std::to_string(opts.port) +
                                    ": " + ex.what());
    }
    return events::ok();
  }

  std::uint16_t port() const override { return port_.load(); }

  void stop() override {
    if (handle_) {
      handle_->stop();
      handle_->wait();
      handle_.reset();
    }
  }

private:
  restinio::request_handling_status_t handle(const restinio::request_handle_t& req) {
    auto in = std::make_shared<request>();
    try {
      in->method = std::string{req->header().method().c_str()};
      in->path = std::string{req->header().path()};
      in->query = std::string{req->header().query()};
      for (const auto& field : req->header())
        in->headers.emplace_back(field.name(), field.value());
      in->body = req->body();
      auto client_id = in->header("x-request-id");
      in->request_id =
          client_id && acceptable_request_id(*client_id) ? *client_id : generate_request_id();
    } catch (const std::exception& ex) {
      return restinio_server_reply(
          req, "",
          to_http(events::make_error(events::riposte_errc::invalid_request,
                                     std::string{"malformed request: "} + ex.what())));
    }
    auto channel = std::make_shared<restinio_exchange>(req, *in, &observer_);
    in->reply_channel = channel;
    auto done = [channel](response out) { channel->reply(std::move(out)); };
    auto too_large = [&](std::uint64_t limit) {
      if (in->body.size() <= limit)
        return false;
      done(to_http(events::make_error(events::riposte_errc::payload_too_large,
                                      "The request body is " + std::to_string(in->body.size()) +
                                          " bytes; this endpoint accepts at most " +
                                          std::to_string(limit) + " bytes.")));
      return true;
    };
    try {
      std::vector<std::string> params;
      for (const auto& r : routes_) {
        params.clear();
        if (!match_pattern(r.pattern, in->path, params))
          continue;
        if (r.method != in->method)
          continue;
        channel->set_route(r.pattern); // a pattern, never an id: bounded label values
        if (too_large(r.max_body_bytes ? r.max_body_bytes : max_body_bytes_))
          return restinio::request_accepted();
        r.handle(*in, params, done);
        return restinio::request_accepted();
      }
      if (!too_large(max_body_bytes_))
        done(unknown_url(*in));
    } catch (const std::exception& ex) {
      // An exception must never close a connection without an answer.
      done(to_http(events::make_error(events::riposte_errc::internal, ex.what())));
    }
    return restinio::request_accepted();
  }

  std::vector<route> routes_;
  exchange_observer observer_;
  handle_t handle_;
  std::atomic<std::uint16_t> port_{0};
  std::uint64_t max_body_bytes_ = 0;
};

} // namespace

std::optional<std::string> request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size())
      continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (same)
      return value;
  }
  return std::nullopt;
}

bool match_pattern(std::string_view pattern, std::string_view path,
                   std::vector<std::string>& params) {
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/')
      return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto pat_seg = pattern.substr(0, pattern.find('/'));
    auto path_seg = path.substr(0, path.find('/'));
    if (pat_seg.size() > 2 && pat_seg.front() == '{' && pat_seg.back() == '}') {
      if (path_seg.empty())
        return false;
      std::string decoded;
      for (std::size_t i = 0; i < path_seg.size(); ++i) {
        if (path_seg[i] == '%' && i + 2 < path_seg.size() &&
            std::isxdigit(static_cast<unsigned char>(path_seg[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(path_seg[i + 2]))) {
          decoded.push_back(
              static_cast<char>(std::stoi(std::string{path_seg.substr(i + 1, 2)}, nullptr, 16)));
          i += 2;
        } else {
          decoded.push_back(path_seg[i]);
        }
      }
      params.push_back(std::move(decoded));
    } else if (pat_seg != path_seg) {
      return false;
    }
    pattern.remove_prefix(pat_seg.size());
    path.remove_prefix(path_seg.size());
  }
  return true;
}

events::result<std::unique_ptr<server>> start_server(const server_options& opts,
                                                     std::vector<route> routes) {
  auto srv = std::make_unique<restinio_server>(std::move(routes));
  if (auto ok = srv->start(opts); !ok)
    return ok.error();
  return std::unique_ptr<server>{std::move(srv)};
}

} // namespace riposte::http
