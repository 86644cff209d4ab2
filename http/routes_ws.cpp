// /v1/responses over a WebSocket (the Responses WebSocket mode, as Codex and
// the SDKs speak it). A connection is authenticated once, at the upgrade.
// Each `response.create` message is a POST /v1/responses body with a `type`;
// it goes through the same validation and the same response actor, with the
// connection as its one live subscriber: its events go out as text frames,
// each after it is stored. Responses run one at a time per connection, in the
// order their messages came. The connection keeps its latest response's
// context, so a turn that continues it sends only its new items, `store:
// false` included; nothing of it is visible to another connection.
#include "actors/messages.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"
#include "events/json_safe.hpp"
#include "http/errors.hpp"
#include "http/routes.hpp"
#include "http/sse.hpp"
#include "http/ws_frames.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace riposte::http {

namespace {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

// Open connections per tenant, for --max-websockets-per-tenant.
struct tenant_counts {
  std::mutex mutex;
  std::unordered_map<std::string, std::size_t> open;
};

// One tenant's place among its open connections, given back when the
// session goes.
class tenant_slot {
public:
  tenant_slot(std::shared_ptr<tenant_counts> counts, std::string tenant)
    : counts_(std::move(counts))
    , tenant_(std::move(tenant)) {}
  ~tenant_slot() {
    std::lock_guard guard{counts_->mutex};
    if (auto it = counts_->open.find(tenant_); it != counts_->open.end() && --it->second == 0)
      counts_->open.erase(it);
  }
  tenant_slot(const tenant_slot&) = delete;
  tenant_slot& operator=(const tenant_slot&) = delete;

private:
  std::shared_ptr<tenant_counts> counts_;
  std::string tenant_;
};

// A request-scoped `error` event: the nested shape with the HTTP status it
// would have had, which Codex and the SDKs map like an HTTP error. A
// previous_response_id that is not there is `previous_response_not_found`
// (Codex retries the whole request on it).
struct ws_error {
  int status = 0;
  std::string code;  // for the request log too
  std::string event; // the text frame
};

// `previous`: the previous_response_id the request named, if any.
ws_error ws_error_of(const ev::error_info& err, const std::string& previous = {}) {
  auto m = map_error(err.code);
  ws_error out{m.status, std::string{m.code}, {}};
  std::string message = err.message;
  if (err.code == riposte_errc::not_found && err.param == "previous_response_id") {
    out.status = 400;
    out.code = "previous_response_not_found";
    message = "Previous response with id '" + ev::excerpt(previous) + "' not found.";
  }
  json event{{"type", "error"},
             {"status", out.status},
             {"error",
              {{"type", m.type},
               {"code", out.code.empty() ? json(nullptr) : json(out.code)},
               {"message", message},
               {"param", err.param.empty() ? json(nullptr) : json(err.param)}}}};
  out.event = ev::dump_json(event);
  return out;
}

// An upgrade refused with an OpenAI-shaped body.
response refusal(int status, const std::string& code, const std::string& message) {
  json body{{"error",
             {{"message", message},
              {"type", "invalid_request_error"},
              {"param", nullptr},
              {"code", code}}}};
  return response{status, ev::dump_json(body), "application/json", {}, code};
}

class session;
using clock = std::chrono::steady_clock;

// What the request log says of one turn, and whether it continued the
// connection's latest response.
struct turn_info {
  std::string response_id;
  std::string previous_response_id;
  clock::time_point started;
  std::int64_t input_items = -1;
  bool continues_cached = false;
};

// One response's stream over the connection. It ends exactly once: closed
// after the terminal event, failed before the response started, gone with
// the connection, or dropped unended by an actor that died.
class ws_sink final : public actors::event_sink {
public:
  ws_sink(std::weak_ptr<session> owner, std::shared_ptr<ws_channel> out, sse_options opts,
          turn_info turn)
    : owner_(std::move(owner))
    , out_(std::move(out))
    , opts_(std::move(opts))
    , seed_(obfuscation_seed(opts_.response_id))
    , turn_(std::move(turn)) {}

  // Dropped without an end (its actor died, the create was lost): the
  // client is told, and the connection takes its next message.
  ~ws_sink() override {
    try {
      if (!take_end())
        return;
      out_->send_text(ws_error_of(ev::server_fault()).event);
      ended("failed", nullptr, 500, "server_error");
    } catch (...) {
    }
  }

  void push(const projections::stream_frame& event) override {
    out_->send_text(event_data(event, opts_, seed_));
  }

  // Silence mid-output: a ping (for proxies and the Python SDK's keepalive).
  // Silence before the first output (a long prefill): logged
  // response.in_progress events instead, since Codex's idle timer counts
  // only data frames, and a frame carrying an event must be one the log holds.
  void keep_alive() override { out_->ping(); }
  bool wants_logged_keepalive() const override { return true; }

  void settled(const std::string&, const std::string& status,
               const projections::chain_ptr& context) override {
    std::lock_guard guard{mutex_};
    status_ = status;
    context_ = context;
  }

  void close() override {
    if (!take_end())
      return;
    std::string status;
    projections::chain_ptr context;
    {
      std::lock_guard guard{mutex_};
      status = status_;
      context = context_;
    }
    ended(status, std::move(context), 200);
  }

  void fail(const ev::error_info& err) override {
    if (!take_end())
      return;
    auto e = ws_error_of(err, turn_.previous_response_id);
    out_->send_text(std::move(e.event));
    ended("failed", nullptr, e.status, e.code);
  }

  void on_gone(std::function<void()> fn) override {
    bool already = false;
    {
      std::lock_guard guard{mutex_};
      gone_fn_ = std::move(fn);
      already = gone_;
    }
    if (already && gone_fn_)
      gone_fn_();
  }

  // The connection is gone: the response is left as a disconnect leaves it,
  // and the turn is logged as a client that went away (499).
  void gone() {
    if (take_end())
      ended("cancelled", nullptr, 499, "client_disconnected");
    std::function<void()> fn;
    {
      std::lock_guard guard{mutex_};
      if (gone_)
        return;
      gone_ = true;
      fn = gone_fn_;
    }
    if (fn)
      fn();
  }

  // Never handed to an actor: it ends without a word.
  void abandon() { take_end(); }

private:
  bool take_end() {
    std::lock_guard guard{mutex_};
    if (ended_)
      return false;
    ended_ = true;
    return true;
  }

  void ended(const std::string& status, projections::chain_ptr context, int http_status,
             std::string error_code = {});

  std::weak_ptr<session> owner_;
  std::shared_ptr<ws_channel> out_;
  sse_options opts_;
  std::uint64_t seed_; // of opts_.response_id
  turn_info turn_;
  std::mutex mutex_;
  bool ended_ = false;
  bool gone_ = false;
  std::function<void()> gone_fn_;
  std::string status_ = "failed";
  projections::chain_ptr context_;
};

class session final : public ws_session, public std::enable_shared_from_this<session> {
public:
  session(std::shared_ptr<const api_context> c, std::string tenant, std::string request_id,
          std::shared_ptr<ws_channel> out, std::unique_ptr<tenant_slot> slot)
    : c_(std::move(c))
    , tenant_(std::move(tenant))
    , request_id_(std::move(request_id))
    , out_(std::move(out))
    , slot_(std::move(slot)) {
    if (c_->stats)
      c_->stats->ws_open(+1);
  }

  ~session() override {
    if (c_->stats)
      c_->stats->ws_open(-1);
  }

  // On the connection's thread.
  void on_text(std::string message) override {
    bool overflow = false;
    {
      std::lock_guard guard{mutex_};
      if (closed_)
        return;
      if (!busy_) {
        busy_ = true;
      } else if (queue_.size() < c_->ws_queued &&
                 queued_bytes_ + message.size() <= c_->ws_queued_bytes) {
        queued_bytes_ += message.size();
        queue_.push_back(std::move(message));
        return;
      } else {
        // An error frame now would land inside the running response's
        // events: a client this far ahead loses the connection instead.
        closed_ = overflow = true;
      }
    }
    if (overflow) {
      out_->close(ws::close_code::policy_violation,
                  "too many response.create messages waiting (at most " +
                      std::to_string(c_->ws_queued) + ")");
      return;
    }
    run_guarded(std::move(message));
  }

  void on_closed() override {
    std::shared_ptr<ws_sink> current;
    {
      std::lock_guard guard{mutex_};
      closed_ = true;
      queue_.clear();
      queued_bytes_ = 0;
      cached_id_.clear();
      cached_.reset();
      current = current_.lock();
      current_.reset();
    }
    if (current)
      current->gone(); // a running response ends as a disconnect ends it
  }

  // The response a sink streamed is over.
  void turn_ended(const std::string& status, projections::chain_ptr context, int http_status,
                  const std::string& error_code, const turn_info& turn) {
    std::optional<std::string> next; // an empty message is a message too
    {
      std::lock_guard guard{mutex_};
      current_.reset();
      if ((status == "completed" || status == "incomplete") && context) {
        cached_id_ = turn.response_id;
        cached_ = std::move(context);
      } else if (turn.continues_cached) {
        // A failed turn lets go of the response it continued: retrying it
        // is previous_response_not_found (unless it is stored).
        cached_id_.clear();
        cached_.reset();
      }
      if (closed_ || queue_.empty()) {
        busy_ = false;
      } else {
        next = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= next->size();
      }
    }
    // The log line and the next message go to the connection's thread: this
    // may be the response actor's, which neither writes logs nor parses.
    out_->post([self = shared_from_this(), turn, http_status, code = error_code,
                next = std::move(next)]() mutable {
      self->log_turn(turn, http_status, code);
      if (next)
        self->run_guarded(std::move(*next));
    });
  }

private:
  // A large message is parsed off the io thread, which every other
  // connection waits on; later ones queue behind it as for any turn.
  void run_guarded(std::string message) {
    if (c_->offload.takes(message.size())) {
      c_->offload.run([self = shared_from_this(), message = std::move(message)]() mutable {
        self->run_contained(std::move(message));
      });
      return;
    }
    run_contained(std::move(message));
  }

  // A failure here is this connection's: it closes with 1011.
  void run_contained(std::string message) {
    try {
      run(std::move(message));
    } catch (...) {
      ev::report_fault("websocket", ev::describe(std::current_exception()));
      {
        std::lock_guard guard{mutex_};
        busy_ = false;
        closed_ = true;
      }
      out_->close(ws::close_code::internal_error, "internal error");
    }
  }

  // Starts each message in turn until one starts a response (it ends in
  // turn_ended) or none is left.
  void run(std::string message) {
    for (;;) {
      {
        std::lock_guard guard{mutex_};
        if (closed_) {
          busy_ = false;
          return;
        }
      }
      if (start(message))
        return;
      {
        std::lock_guard guard{mutex_};
        if (closed_ || queue_.empty()) {
          busy_ = false;
          return;
        }
        message = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= message.size();
      }
      if (c_->offload.takes(message.size()))
        return run_guarded(std::move(message));
    }
  }

  void refuse(const ev::error_info& err, clock::time_point started) {
    auto e = ws_error_of(err);
    out_->send_text(std::move(e.event));
    log_turn(turn_info{{}, {}, started, -1, false}, e.status, e.code);
  }

  // One client message: true if a response started.
  bool start(const std::string& message) {
    auto started = clock::now();
    auto refuse_now = [&](const ev::error_info& err) {
      refuse(err, started);
      return false;
    };
    auto parsed = parse_body(message);
    if (!parsed) {
      count("invalid");
      return refuse_now(parsed.error());
    }
    auto& body = *parsed;
    if (!body.is_object()) {
      count("invalid");
      return refuse_now(ev::make_error(riposte_errc::invalid_type,
                                       "Invalid message: expected a JSON object with a 'type'.",
                                       "type"));
    }
    auto type = ev::string_or(body, "type");
    if (type == "response.processed") { // Codex's acknowledgement: nothing to do
      count(type);
      return false;
    }
    if (type != "response.create") {
      count("invalid");
      return refuse_now(ev::make_error(riposte_errc::invalid_value,
                                       "Unsupported client event type '" + ev::excerpt(type) +
                                           "'; this server accepts 'response.create'.",
                                       "type"));
    }
    count(type);
    body.erase("type");
    bool generate = true;
    if (auto it = body.find("generate"); it != body.end()) {
      if (!it->is_boolean())
        return refuse_now(ev::make_error(riposte_errc::invalid_type,
                                         "Invalid type for 'generate': expected a boolean.",
                                         "generate"));
      generate = it->get<bool>();
      body.erase(it);
    }
    if (body.contains("stream_id"))
      return refuse_now(ev::make_error(
          riposte_errc::unsupported_parameter,
          "Unsupported parameter: 'stream_id'. This server runs the responses of a connection one "
          "at a time, in order; send them without a lane.",
          "stream_id"));
    if (body.value("background", json()) == json(true))
      return refuse_now(ev::make_error(riposte_errc::unsupported_parameter,
                                       "background is not supported over WebSocket; use POST "
                                       "/v1/responses for background responses.",
                                       "background"));
    // Streaming is what a WebSocket does: `stream` is implied (clients send
    // true anyway).
    if (auto it = body.find("stream"); it != body.end() && !it->is_boolean())
      return refuse_now(ev::make_error(riposte_errc::invalid_type,
                                       "Invalid type for 'stream': expected a boolean.", "stream"));
    body["stream"] = true;
    auto cmd = create_from_json(std::move(body), c_->limits);
    if (!cmd)
      return refuse_now(cmd.error());
    if (auto err = check_sealed_reasoning(*c_, *cmd, tenant_))
      return refuse_now(*err);
    cmd->response_id = ev::make_id("resp_");
    cmd->tenant = tenant_;
    cmd->stream = true;
    cmd->generate = generate;
    bool continues_cached = false;
    if (!cmd->previous_response_id.empty()) {
      std::lock_guard guard{mutex_};
      continues_cached = cmd->previous_response_id == cached_id_ && cached_ != nullptr;
      if (continues_cached)
        cmd->parent_context = cached_;
    }
    if (!cmd->previous_response_id.empty() && c_->stats)
      c_->stats->ws_continuation(continues_cached ? "connection" : "store");
    sse_options so;
    so.response_id = cmd->response_id;
    so.obfuscation = cmd->obfuscation;
    turn_info turn{cmd->response_id, cmd->previous_response_id, started,
                   static_cast<std::int64_t>(cmd->input.size()), continues_cached};
    auto sink = std::make_shared<ws_sink>(weak_from_this(), out_, std::move(so), std::move(turn));
    {
      std::lock_guard guard{mutex_};
      if (closed_) {
        sink->abandon();
        return false;
      }
      current_ = sink;
    }
    start_create(*c_, std::move(*cmd), actors::sink_handle{std::move(sink)});
    return true;
  }

  void count(const std::string& type) {
    if (c_->stats)
      c_->stats->ws_message(type);
  }

  void log_turn(const turn_info& turn, int status, const std::string& error_code) {
    if (!c_->on_ws_turn)
      return;
    answer a;
    a.route = "/v1/responses";
    a.method = "WS response.create";
    a.status = status;
    a.seconds = std::chrono::duration<double>(clock::now() - turn.started).count();
    a.request_id = request_id_ + "." + std::to_string(++turns_);
    a.error_code = error_code;
    a.note.tenant = tenant_;
    a.note.response_id = turn.response_id;
    a.note.input_items = turn.input_items;
    try {
      c_->on_ws_turn(a);
    } catch (...) {
    }
  }

  std::shared_ptr<const api_context> c_;
  std::string tenant_;
  std::string request_id_;
  std::shared_ptr<ws_channel> out_;
  std::unique_ptr<tenant_slot> slot_;
  std::mutex mutex_;
  bool busy_ = false;
  bool closed_ = false;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::weak_ptr<ws_sink> current_; // the actor holds it; dropped unended, it says so
  std::string cached_id_;          // the connection's latest completed response
  projections::chain_ptr cached_;
  std::atomic<std::uint64_t> turns_{0};
};

void ws_sink::ended(const std::string& status, projections::chain_ptr context, int http_status,
                    std::string error_code) {
  if (auto owner = owner_.lock())
    owner->turn_ended(status, std::move(context), http_status, error_code, turn_);
}

} // namespace

std::vector<ws_route> responses_ws_routes(const api_context& ctx) {
  auto c = std::make_shared<const api_context>(ctx);
  auto counts = std::make_shared<tenant_counts>();
  ws_route r;
  r.path = "/v1/responses";
  r.accept = [c, counts](const request& req, std::shared_ptr<ws_channel> out)
      -> std::variant<response, std::shared_ptr<ws_session>> {
    auto upgrade = [&](const std::string& result) {
      if (c->stats)
        c->stats->ws_upgrade(result);
    };
    auto tenant = c->auth->tenant_of(req);
    if (!tenant) {
      upgrade("unauthorized");
      return to_http(tenant.error());
    }
    if (!c->websocket) {
      upgrade("disabled");
      return refusal(426, "websocket_disabled",
                     "WebSocket mode is turned off on this server; use POST /v1/responses.");
    }
    // Codex's first protocol (response.append, Feb 2026) is not spoken:
    // 426 sends such a client to HTTP at once.
    if (auto beta = req.header("openai-beta");
        beta && beta->find("responses_websockets=2026-02-04") != std::string::npos) {
      upgrade("disabled");
      return refusal(426, "websocket_protocol_unsupported",
                     "This server speaks the Responses WebSocket protocol of 2026-02-06 "
                     "(response.create with previous_response_id); use it, or POST /v1/responses.");
    }
    {
      std::lock_guard guard{counts->mutex};
      auto& open = counts->open[*tenant];
      if (open >= c->ws_per_tenant) {
        upgrade("tenant_limit");
        return refusal(429, "websocket_connection_limit_reached",
                       "Too many WebSocket connections for this API key (at most " +
                           std::to_string(c->ws_per_tenant) +
                           "); close one or use POST /v1/responses.");
      }
      ++open;
    }
    upgrade("accepted");
    return std::shared_ptr<ws_session>{
        std::make_shared<session>(c, *tenant, req.request_id, std::move(out),
                                  std::make_unique<tenant_slot>(counts, *tenant))};
  };
  return {std::move(r)};
}

} // namespace riposte::http
