// A Chat Completions server as a backend: POST /v1/chat/completions (SSE),
// GET /v1/models.
#include "adapters/backends/generation.hpp"
#include "adapters/backends/http_client.hpp"
#include "adapters/backends/openai_chat.hpp"
#include "events/json_safe.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace riposte::adapters::backends {

namespace ev = events;
using json = nlohmann::json;

namespace {

// A body's key in the count cache: two independent 64-bit hashes of it (a
// whole conversation is too big to keep as a key; a collision of both is
// not a practical concern).
std::string body_key(const std::string& body) {
  std::uint64_t fnv = 1469598103934665603ull;
  for (unsigned char c : body)
    fnv = (fnv ^ c) * 1099511628211ull;
  auto hex = [](std::uint64_t v) {
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
    return std::string{out};
  };
  return hex(std::hash<std::string>{}(body)) + hex(fnv) + std::to_string(body.size());
}

// Exact counts by the tokenize request that gave them, the oldest forgotten
// first. Thread-safe: counts return on the HTTP client's thread.
class count_cache {
public:
  explicit count_cache(std::size_t capacity)
    : capacity_(capacity) {}
  std::optional<std::int64_t> find(const std::string& key) {
    std::lock_guard guard{mutex_};
    auto it = counts_.find(key);
    if (it == counts_.end())
      return std::nullopt;
    return it->second;
  }
  void put(const std::string& key, std::int64_t n) {
    std::lock_guard guard{mutex_};
    if (!counts_.emplace(key, n).second)
      return;
    order_.push_back(key);
    if (order_.size() > capacity_) {
      counts_.erase(order_.front());
      order_.pop_front();
    }
  }

private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> counts_;
  std::deque<std::string> order_;
};

class openai_chat_backend final : public actors::backend {
public:
  explicit openai_chat_backend(const openai_chat_options& opts)
    : opts_(opts)
    , client_(opts.max_connections) {}

  std::uint64_t generate(actors::generation_request req, actors::update_sink sink) override {
    auto translator = std::make_shared<openai_chat_translator>(req);
    auto r = request("POST", "/v1/chat/completions");
    r.headers.push_back("Content-Type: application/json");
    r.headers.push_back(req.stream ? "Accept: text/event-stream" : "Accept: application/json");
    r.body = openai_chat_body(req, opts_.profile);
    r.timeout_ms = opts_.timeout_ms;
    return stream_generation(client_, std::move(r), std::move(translator), std::move(sink));
  }

  // Closing the connection is how every kind learns the client went away.
  void cancel(std::uint64_t id) override { client_.abort(id); }

  std::int64_t count_input_tokens(const actors::generation_request& req) const override {
    return openai_chat_tokens(req, opts_.profile);
  }

  bool counts_exactly(const std::string&) const override {
    return !opts_.profile.tokenizer.empty();
  }

  // The body the generation would send, counted by the server; the same
  // body is counted once (a plan's bisection, a count then its create, the
  // same turn retried).
  void count_exactly(const actors::generation_request& req,
                     std::function<void(ev::result<std::int64_t>)> done) override {
    auto call = tokenize_request(opts_.profile, to_openai_chat(req, opts_.profile));
    if (call.path.empty())
      return actors::backend::count_exactly(req, std::move(done));
    auto key = body_key(call.path + '\n' + ev::dump_json(call.body));
    if (auto n = counts_.find(key))
      return done(*n);
    auto remember = [this, key, done](ev::result<std::int64_t> n) {
      if (n && *n >= 0)
        counts_.put(key, *n);
      done(std::move(n));
    };
    tokenize(std::move(call), [this, remember](ev::result<json> reply) {
      if (!reply)
        return remember(reply.error());
      if (opts_.profile.tokenizer != "apply_template")
        return remember(counted(*reply));
      auto prompt = reply->find("prompt");
      if (prompt == reply->end() || !prompt->is_string())
        return remember(ev::make_error(ev::riposte_errc::backend_unavailable,
                                       "/apply-template answered no prompt"));
      tokenize(tokenize_prompt(prompt->get<std::string>()), [remember](ev::result<json> tokens) {
        remember(tokens ? counted(*tokens) : ev::result<std::int64_t>{tokens.error()});
      });
    });
  }

  void
  list_models(std::function<void(events::result<std::vector<actors::model_info>>)> done) override {
    fetch_json(
        client_, request("GET", "/v1/models"), "/v1/models",
        [done, kind = opts_.profile.kind](long, ev::result<json> j) {
          if (!j)
            return done(j.error());
          if (!j->contains("data") || !(*j)["data"].is_array())
            return done(ev::make_error(ev::riposte_errc::backend_unavailable,
                                       "the backend's /v1/models reply is not a model list"));
          auto models = chat_models(*j);
          for (auto& m : models)
            if (m.owned_by.empty()) // the server does not say: its kind does
              m.owned_by = kind;
          done(std::move(models));
        });
  }

  void show_model(const std::string& name,
                  std::function<void(events::result<actors::model_info>)> done) override {
    list_models([this, name, done](ev::result<std::vector<actors::model_info>> models) {
      if (!models)
        return done(models.error());
      for (auto& m : *models)
        if (m.id == name)
          return with_window(std::move(m), done);
      // llama.cpp (one model) and TGI serve whatever name they are asked for.
      if (opts_.profile.kind == "llamacpp" || opts_.profile.kind == "tgi") {
        actors::model_info m;
        m.id = name;
        m.capabilities = unstated_capabilities();
        return with_window(std::move(m), done);
      }
      done(ev::make_error(ev::riposte_errc::model_not_found,
                          "The requested model '" + name + "' does not exist.", "model"));
    });
  }

  // Chat Completions servers share no version endpoint; the model list is
  // the probe every kind answers, and who owns its models names the server.
  void version(std::function<void(events::result<std::string>)> done) override {
    list_models([done, kind = opts_.profile.kind](ev::result<std::vector<actors::model_info>> m) {
      if (!m)
        return done(m.error());
      std::string owner = m->empty() ? "" : m->front().owned_by;
      done(kind + (owner.empty() ? "" : " (" + owner + ")") + ", " + std::to_string(m->size()) +
           " model" + (m->size() == 1 ? "" : "s"));
    });
  }

  // vLLM, llama.cpp, SGLang and TGI answer GET /health (503 while a model
  // loads or after the engine died, where their model list may still
  // answer); the others are as healthy as their model list.
  void health(std::function<void(bool ok, json detail)> done) override {
    const auto& kind = opts_.profile.kind;
    if (kind != "vllm" && kind != "llamacpp" && kind != "sglang" && kind != "tgi")
      return actors::backend::health(std::move(done));
    auto body = std::make_shared<std::string>();
    auto r = request("GET", "/health");
    r.on_data = [body](long, std::string_view bytes) {
      if (body->size() < 4096)
        body->append(bytes.substr(0, 4096 - body->size()));
    };
    r.on_done = [this, body, done](const http_outcome& out) {
      if (out.status == 200)
        return actors::backend::health(done);
      auto why = chat_error_message(ev::parse_untrusted(*body));
      done(false, json{{"error", "GET /health: " + (out.status == 0
                                                        ? out.error
                                                        : "HTTP " + std::to_string(out.status) +
                                                              (why.empty() ? "" : ": " + why))}});
    };
    client_.start(std::move(r));
  }

private:
  static ev::result<std::int64_t> counted(const json& reply) {
    auto n = tokenized_count(reply);
    if (n < 0)
      return ev::make_error(ev::riposte_errc::backend_unavailable,
                            "the tokenizer's reply holds no count");
    return n;
  }

  void tokenize(tokenize_call call, std::function<void(ev::result<json>)> done) {
    auto r = request("POST", call.path);
    r.headers.push_back("Content-Type: application/json");
    r.body = ev::dump_json(call.body);
    // A tokenizer answers at once or not at all: the estimate decides after
    // this long, rather than keep the create waiting.
    r.timeout_ms = std::min<long>(opts_.timeout_ms, 10'000);
    fetch_json(client_, std::move(r), "POST " + call.path,
               [done = std::move(done)](long, ev::result<json> j) { done(std::move(j)); });
  }

  // The window the server runs the model with, where its model list does not
  // say it: llama.cpp's /props (n_ctx of a slot), TGI's /info
  // (max_total_tokens), LM Studio's /api/v0/models/{id} (the loaded context,
  // else the model's maximum). Without an answer, the model as listed.
  void with_window(actors::model_info m,
                   std::function<void(events::result<actors::model_info>)> done) {
    const auto& kind = opts_.profile.kind;
    std::string path;
    if (m.context_length == 0 && kind == "llamacpp")
      path = "/props";
    else if (m.context_length == 0 && kind == "tgi")
      path = "/info";
    else if (m.context_length == 0 && kind == "lmstudio")
      path = "/api/v0/models/" + m.id;
    if (path.empty())
      return done(std::move(m));
    fetch_json(client_, request("GET", path), path,
               [m, done, kind](long, ev::result<json> j) mutable {
                 if (j) {
                   auto window = chat_window(kind, *j);
                   if (window > 0)
                     m.context_length = m.num_ctx = window;
                 }
                 done(std::move(m));
               });
  }

  http_request request(std::string method, const std::string& path) const {
    http_request r;
    r.method = std::move(method);
    r.url = opts_.base_url + path;
    if (!opts_.api_key.empty())
      r.headers.push_back("Authorization: Bearer " + opts_.api_key);
    r.connect_timeout_ms = opts_.connect_timeout_ms;
    r.timeout_ms = 30'000;
    return r;
  }

  openai_chat_options opts_;
  mutable http_client client_;
  count_cache counts_{4096};
};

} // namespace

std::unique_ptr<actors::backend> make_openai_chat_backend(const openai_chat_options& opts) {
  return std::make_unique<openai_chat_backend>(opts);
}

} // namespace riposte::adapters::backends
