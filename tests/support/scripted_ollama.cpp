// A scripted backend that speaks Ollama's wire protocol over loopback HTTP:
// /api/chat (NDJSON streaming and not), /api/tags, /api/show, /api/version;
// and a Chat Completions server's, /v1/chat/completions (SSE) and
// /v1/models, in the dialect of the script's "profile" (vllm, llamacpp,
// sglang, tgi, ollama-v1 (the default), lmstudio; tests/support/chat_wire).
// Replies follow JSON rules (text, thinking, tool calls, done_reason, delays,
// HTTP errors, a stream cut off mid-line, a blocking reply "held" until
// POST /_scripted/release); without a matching rule it
// echoes the last user message word by word. Every /api/chat body is kept
// for tests at GET /_scripted/requests.
//
//   scripted_ollama [--listen 127.0.0.1:0] [--script FILE] [--profile KIND]
// prints {"port":N} on stdout once it listens.
#include "tests/support/chat_wire.hpp"

#include <nlohmann/json.hpp>
#include <restinio/all.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

using json = nlohmann::json;

namespace {

struct traits : restinio::default_traits_t {
  using timer_manager_t = restinio::asio_timer_manager_t;
};

struct state {
  std::mutex mutex;
  json script = json::object();
  json requests = json::array();
  json searches = json::array();
  json images = json::array();           // bodies of txt2img calls and ComfyUI workflows
  std::map<std::string, int> comfy_jobs; // prompt_id -> history polls before it is done
  int comfy_next = 1;
  int disconnects = 0; // chat streams the client closed before they ended
  int streaming = 0;   // native chat streams open now, and the most at once
  int streaming_peak = 0; // (GET /_scripted/peak: what a concurrency limit let through)
  // Requests that came with `Expect: 100-continue` (GET /_scripted/expects):
  // like some servers, this one never answers 100, so such a client waits.
  int expects = 0;
  json tokenize_calls = json::array(); // {path, body} of every tokenizer request
  std::string profile = "ollama-v1"; // --profile: the dialect when the script names none
  // Timers of blocking replies held until POST /_scripted/release.
  std::vector<std::weak_ptr<restinio::asio_ns::steady_timer>> held;
};

std::string profile_of(state& st) {
  std::lock_guard guard{st.mutex};
  return st.script.value("profile", st.profile);
}

// A 1x1 PNG: what the fake image providers draw.
const char* png_hex = "89504e470d0a1a0a0000000d4948445200000001000000010804000000b51c0c020000000b49"
                      "44415478da6364600000000600023081d02f0000000049454e44ae426082";
const char* png_b64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() %
            1'000'000'000;
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09lldZ", buf, static_cast<long long>(ns));
  return out;
}

json models(state& st) {
  std::lock_guard guard{st.mutex};
  if (st.script.contains("models"))
    return st.script["models"];
  return json::array({{{"name", "llama3.2:1b"},
                       {"capabilities", {"completion", "tools"}},
                       {"context_length", 131072},
                       {"family", "llama"}},
                      {{"name", "qwen3:0.6b"},
                       {"capabilities", {"completion", "tools", "thinking"}},
                       {"context_length", 40960},
                       {"family", "qwen3"}},
                      {{"name", "llava:7b"},
                       {"capabilities", {"completion", "vision"}},
                       {"context_length", 4096},
                       {"family", "llama"}}});
}

const json* find_model(const json& list, const std::string& name) {
  for (const auto& m : list)
    if (m.value("name", "") == name || m.value("name", "") == name + ":latest")
      return &m;
  return nullptr;
}

std::string last_user_text(const json& body) {
  std::string text;
  for (const auto& m : body.value("messages", json::array()))
    if (m.value("role", "") == "user" && m.contains("content") && m["content"].is_string())
      text = m["content"].get<std::string>();
  return text;
}

// The reply plan for a chat request: the first rule whose match fits, or an echo.
json plan_for(state& st, const json& body) {
  std::string model = body.value("model", "");
  std::string text = last_user_text(body);
  {
    std::lock_guard guard{st.mutex};
    for (const auto& rule : st.script.value("rules", json::array())) {
      const auto match = rule.value("match", json::object());
      if (match.contains("model") && match["model"] != model)
        continue;
      if (match.contains("contains") &&
          text.find(match["contains"].get<std::string>()) == std::string::npos)
        continue;
      if (match.contains("has_tool_result")) {
        bool has = false;
        for (const auto& m : body.value("messages", json::array()))
          has = has || m.value("role", "") == "tool";
        if (has != match["has_tool_result"].get<bool>())
          continue;
      }
      return rule.at("reply");
    }
  }
  json chunks = json::array();
  std::istringstream words{"Echo: " + text};
  std::string word;
  bool first = true;
  while (words >> word) {
    chunks.push_back({{"content", (first ? "" : " ") + word}});
    first = false;
  }
  return {{"chunks", chunks}};
}

std::size_t prompt_tokens(const json& body) {
  std::size_t chars = 0;
  for (const auto& m : body.value("messages", json::array()))
    if (m.contains("content") && m["content"].is_string())
      chars += m["content"].get<std::string>().size();
  return chars / 4 + 1;
}

// The line a chunk of plain content makes, as chunk_line(...).dump() writes
// it (keys sorted), without building the object: the streaming benchmark
// runs a thousand streams through this backend on the machine it measures.
std::string content_line(const std::string& model, const std::string& content) {
  std::string line = "{\"created_at\":\"";
  line += timestamp();
  line += "\",\"done\":false,\"message\":{\"content\":";
  line += json(content).dump();
  line += ",\"role\":\"assistant\"},\"model\":";
  line += json(model).dump();
  line += "}\n";
  return line;
}

json chunk_line(const std::string& model, const json& chunk) {
  json message{{"role", "assistant"}, {"content", chunk.value("content", "")}};
  if (chunk.contains("thinking"))
    message["thinking"] = chunk["thinking"];
  if (chunk.contains("tool_calls"))
    message["tool_calls"] = chunk["tool_calls"];
  return {{"model", model}, {"created_at", timestamp()}, {"message", message}, {"done", false}};
}

json final_line(const std::string& model, const json& plan, const json& body, std::size_t n) {
  return {{"model", model},
          {"created_at", timestamp()},
          {"message", {{"role", "assistant"}, {"content", ""}}},
          {"done", true},
          {"done_reason", plan.value("done_reason", "stop")},
          {"total_duration", 1000000},
          {"load_duration", 1000},
          {"prompt_eval_count", plan.value("prompt_eval_count", prompt_tokens(body))},
          {"prompt_eval_duration", 1000},
          {"eval_count", plan.value("eval_count", n)},
          {"eval_duration", 1000}};
}

using response_t = restinio::response_builder_t<restinio::chunked_output_t>;

// Streams one chunk per tick on the server's io_context, never blocking it.
struct streamer : std::enable_shared_from_this<streamer> {
  restinio::asio_ns::steady_timer timer;
  std::shared_ptr<response_t> resp;
  json plan, body;
  std::string model;
  std::size_t next = 0;
  state& st;

  streamer(restinio::asio_ns::io_context& io, state& s)
    : timer(io)
    , st(s) {
    std::lock_guard guard{st.mutex};
    st.streaming_peak = std::max(st.streaming_peak, ++st.streaming);
  }
  ~streamer() {
    std::lock_guard guard{st.mutex};
    --st.streaming;
  }
  streamer(const streamer&) = delete;
  streamer& operator=(const streamer&) = delete;

  void tick(long delay_ms) {
    timer.expires_after(std::chrono::milliseconds(delay_ms));
    timer.async_wait([self = shared_from_this()](const auto& ec) {
      if (!ec)
        self->step();
    });
  }

  void step() {
    const auto& chunks = plan["chunks"];
    if (plan.contains("drop_after") && next == plan["drop_after"].get<std::size_t>()) {
      // The stream ends mid-line with no final `done` line, as when the
      // backend process dies.
      resp->append_chunk(std::string{"{\"model\":\""});
      resp->done();
      return;
    }
    if (plan.contains("error_after") && next == plan["error_after"].get<std::size_t>()) {
      resp->append_chunk(json{{"error", plan.value("error", "scripted failure")}}.dump() + "\n");
      resp->done();
      return;
    }
    if (next < chunks.size()) {
      const auto& chunk = chunks[next];
      if (chunk.size() == 1 && chunk.contains("content") && chunk["content"].is_string())
        resp->append_chunk(content_line(model, chunk["content"].get_ref<const std::string&>()));
      else
        resp->append_chunk(chunk_line(model, chunk).dump() + "\n");
      ++next;
      resp->flush();
      tick(plan.value("delay_ms", 0L));
      return;
    }
    resp->append_chunk(final_line(model, plan, body, chunks.size()).dump() + "\n");
    resp->done();
  }
};

restinio::request_handling_status_t reply_json(const restinio::request_handle_t& req, int status,
                                               const json& body) {
  req->create_response(restinio::http_status_line_t{
                           restinio::http_status_code_t{static_cast<std::uint16_t>(status)},
                           status < 400 ? "OK" : "Error"})
      .append_header(restinio::http_field::content_type, "application/json; charset=utf-8")
      .set_body(body.dump())
      .done();
  return restinio::request_accepted();
}

restinio::request_handling_status_t chat(state& st, restinio::asio_ns::io_context& io,
                                         const restinio::request_handle_t& req) {
  auto body = json::parse(req->body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return reply_json(req, 400, {{"error", "invalid character in request body"}});
  {
    std::lock_guard guard{st.mutex};
    st.requests.push_back(body);
  }
  std::string model = body.value("model", "");
  if (model.empty())
    return reply_json(req, 400, {{"error", "model is required"}});
  auto list = models(st);
  if (find_model(list, model) == nullptr)
    return reply_json(req, 404, {{"error", "model '" + model + "' not found"}});
  auto plan = plan_for(st, body);
  if (plan.contains("status"))
    return reply_json(req, plan["status"].get<int>(), {{"error", plan.value("error", "boom")}});
  if (!body.value("stream", true)) {
    json message{{"role", "assistant"}, {"content", ""}};
    std::string content, thinking;
    json calls = json::array();
    for (const auto& c : plan["chunks"]) {
      content += c.value("content", "");
      thinking += c.value("thinking", "");
      for (const auto& tc : c.value("tool_calls", json::array()))
        calls.push_back(tc);
    }
    message["content"] = content;
    if (!thinking.empty())
      message["thinking"] = thinking;
    if (!calls.empty())
      message["tool_calls"] = calls;
    auto out = final_line(model, plan, body, plan["chunks"].size());
    out["message"] = message;
    if (plan.contains("drop_after")) { // the connection dies half way through the body
      auto cut = std::make_shared<response_t>(req->create_response<restinio::chunked_output_t>());
      auto text = out.dump();
      cut->append_header(restinio::http_field::content_type, "application/json");
      cut->append_chunk(text.substr(0, text.size() / 2));
      cut->flush();
      cut->connection_close();
      cut->done();
      return restinio::request_accepted();
    }
    long delay = plan.value("delay_ms", 0L) * static_cast<long>(plan["chunks"].size()) +
                 plan.value("first_delay_ms", 0L);
    auto timer = std::make_shared<restinio::asio_ns::steady_timer>(io);
    if (plan.value("held", false)) { // until released (or 10 minutes)
      delay = 600'000;
      std::lock_guard guard{st.mutex};
      st.held.push_back(timer);
    }
    timer->expires_after(std::chrono::milliseconds(delay));
    timer->async_wait([timer, req, out](const auto&) { reply_json(req, 200, out); });
    return restinio::request_accepted();
  }
  auto s = std::make_shared<streamer>(io, st);
  s->resp = std::make_shared<response_t>(req->create_response<restinio::chunked_output_t>());
  s->resp->append_header(restinio::http_field::content_type, "application/x-ndjson");
  s->resp->flush();
  s->plan = plan;
  s->body = body;
  s->model = model;
  s->tick(plan.value("first_delay_ms", 0L));
  return restinio::request_accepted();
}

// Writes a rendered reply one write per tick; a write the client no longer
// takes ends it and is counted (GET /_scripted/disconnects).
struct write_streamer : std::enable_shared_from_this<write_streamer> {
  restinio::asio_ns::steady_timer timer;
  std::shared_ptr<response_t> resp;
  std::vector<std::string> writes;
  bool close_abruptly = false;
  long delay_ms = 0;
  std::size_t next = 0;
  state* st = nullptr;
  bool gone = false;

  explicit write_streamer(restinio::asio_ns::io_context& io)
    : timer(io) {}

  void tick(long ms) {
    timer.expires_after(std::chrono::milliseconds(ms));
    timer.async_wait([self = shared_from_this()](const auto& ec) {
      if (!ec && !self->gone)
        self->step();
    });
  }

  void step() {
    if (next == writes.size()) {
      if (close_abruptly)
        resp->connection_close();
      resp->done();
      return;
    }
    resp->append_chunk(writes[next++]);
    resp->flush([self = shared_from_this()](const restinio::asio_ns::error_code& ec) {
      if (!ec || self->gone)
        return;
      self->gone = true;
      std::lock_guard guard{self->st->mutex};
      ++self->st->disconnects;
    });
    tick(delay_ms);
  }
};

restinio::request_handling_status_t chat_completions(state& st, restinio::asio_ns::io_context& io,
                                                     const restinio::request_handle_t& req) {
  auto profile = profile_of(st);
  auto body = json::parse(req->body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return reply_json(req, 400, riposte::tests::chat_error_body(profile, 400, "invalid JSON body"));
  {
    std::lock_guard guard{st.mutex};
    st.requests.push_back(body);
  }
  std::string model = body.value("model", "");
  auto list = models(st);
  // llama.cpp and TGI serve whatever model is named; the others check it.
  if (profile != "llamacpp" && profile != "tgi" && find_model(list, model) == nullptr)
    return reply_json(
        req, 404,
        riposte::tests::chat_error_body(profile, 404, "The model `" + model + "` does not exist."));
  if (body.contains("stream_options") && !body.value("stream", false) && profile == "vllm")
    return reply_json(req, 400,
                      riposte::tests::chat_error_body(
                          profile, 400, "Stream options can only be defined when `stream=True`."));
  auto plan = plan_for(st, body);
  auto reply = riposte::tests::render_chat_reply(profile, plan, body);
  auto s = std::make_shared<write_streamer>(io);
  s->resp = std::make_shared<response_t>(
      req->create_response<restinio::chunked_output_t>(restinio::http_status_line_t{
          restinio::http_status_code_t{static_cast<std::uint16_t>(reply.status)},
          reply.status < 400 ? "OK" : "Error"}));
  s->resp->append_header(restinio::http_field::content_type, reply.content_type);
  s->resp->flush();
  s->writes = std::move(reply.writes);
  s->close_abruptly = reply.close_abruptly;
  s->delay_ms = plan.value("delay_ms", 0L);
  s->st = &st;
  // A whole reply takes as long as its stream would have.
  auto first = plan.value("first_delay_ms", 0L);
  if (!body.value("stream", false))
    first += s->delay_ms * static_cast<long>(plan.value("chunks", json::array()).size());
  s->tick(first);
  return restinio::request_accepted();
}

restinio::request_handling_status_t tokenize(state& st, const restinio::request_handle_t& req,
                                             const std::string& path) {
  auto profile = profile_of(st);
  bool served = (path == "/tokenize" && (profile == "vllm" || profile == "llamacpp")) ||
                (path == "/chat_tokenize" && profile == "tgi") ||
                (path == "/apply-template" && profile == "llamacpp");
  if (!served)
    return reply_json(req, 404, riposte::tests::chat_error_body(profile, 404, "Not Found"));
  auto body = json::parse(req->body(), nullptr, false);
  if (!body.is_object())
    return reply_json(req, 400, riposte::tests::chat_error_body(profile, 400, "invalid JSON"));
  // vLLM's tokenizer answers only for a model it serves, as its chat does.
  if (profile == "vllm" && find_model(models(st), body.value("model", "")) == nullptr)
    return reply_json(req, 404,
                      riposte::tests::chat_error_body(profile, 404,
                                                      "The model `" + body.value("model", "") +
                                                          "` does not exist."));
  std::int64_t per_word = 1;
  int status = 200;
  {
    std::lock_guard guard{st.mutex};
    st.tokenize_calls.push_back({{"path", path}, {"body", body}});
    per_word = st.script.value("tokens_per_word", 1);
    status = st.script.value("tokenize_status", 200);
  }
  if (status != 200)
    return reply_json(req, status,
                      riposte::tests::chat_error_body(profile, status, "tokenizer unavailable"));
  if (path == "/apply-template")
    return reply_json(req, 200, {{"prompt", riposte::tests::chat_template_text(body)}});
  auto text = body.contains("content") ? body.value("content", "")
                                       : riposte::tests::chat_template_text(body);
  auto n = riposte::tests::scripted_token_count(text, per_word);
  json tokens = json::array();
  for (std::int64_t i = 0; i < n; ++i)
    tokens.push_back(profile == "tgi"
                         ? json{{"id", 1000 + i % 7}, {"text", "t"}, {"start", i}, {"stop", i + 1}}
                         : json(1000 + i % 7));
  if (profile == "tgi")
    return reply_json(req, 200,
                      {{"tokenize_response", std::move(tokens)},
                       {"templated_text", riposte::tests::chat_template_text(body)}});
  if (profile == "vllm") {
    auto list = models(st);
    return reply_json(req, 200,
                      {{"count", n},
                       {"max_model_len", list.empty() ? 0 : list[0].value("context_length", 0)},
                       {"tokens", std::move(tokens)},
                       {"token_strs", nullptr}});
  }
  return reply_json(req, 200, {{"tokens", std::move(tokens)}});
}

restinio::request_handling_status_t handle(state& st, restinio::asio_ns::io_context& io,
                                           const restinio::request_handle_t& req) {
  auto path = std::string{req->header().path()};
  auto method = req->header().method();
  if (req->header().has_field(restinio::http_field::expect)) {
    std::lock_guard guard{st.mutex};
    ++st.expects;
  }
  if (path == "/api/chat" && method == restinio::http_method_post())
    return chat(st, io, req);
  if (path == "/v1/chat/completions" && method == restinio::http_method_post())
    return chat_completions(st, io, req);
  if (path == "/v1/models" && method == restinio::http_method_get()) {
    return reply_json(req, 200, riposte::tests::chat_models_reply(profile_of(st), models(st)));
  }
  // GET /health as each kind answers it; script {"health_status": 503} is a
  // model still loading.
  if (path == "/health" && method == restinio::http_method_get()) {
    auto profile = profile_of(st);
    int status = 200;
    {
      std::lock_guard guard{st.mutex};
      status = st.script.value("health_status", 200);
    }
    if (status != 200)
      return reply_json(req, status,
                        profile == "tgi"
                            ? json{{"error", "unhealthy"}, {"error_type", "healthcheck"}}
                            : json{{"error",
                                    {{"code", status},
                                     {"message", "Loading model"},
                                     {"type", "unavailable_error"}}}});
    if (profile == "vllm") // an empty 200
      return req->create_response().done();
    return reply_json(req, 200, {{"status", "ok"}});
  }
  // Where each Chat Completions kind says its window (the first model's
  // context_length: llama.cpp and TGI serve one model).
  if ((path == "/props" || path == "/info" || path.rfind("/api/v0/models/", 0) == 0) &&
      method == restinio::http_method_get()) {
    auto profile = profile_of(st);
    auto list = models(st);
    auto window = list.empty() ? 0 : list[0].value("context_length", 8192);
    if (path == "/props" && profile == "llamacpp")
      return reply_json(req, 200,
                        {{"default_generation_settings", {{"n_ctx", window}, {"n_predict", -1}}},
                         {"total_slots", 1},
                         {"model_path", "/models/" + list[0].value("name", "") + ".gguf"},
                         {"modalities", {{"vision", false}, {"audio", false}}}});
    if (path == "/info" && profile == "tgi")
      return reply_json(req, 200,
                        {{"model_id", list[0].value("name", "")},
                         {"max_input_tokens", window - 1},
                         {"max_total_tokens", window},
                         {"max_stop_sequences", 4},
                         {"router", "text-generation-router"},
                         {"version", "3.3.6"}});
    if (path.rfind("/api/v0/models/", 0) == 0 && profile == "lmstudio") {
      const json* m = find_model(list, path.substr(15));
      if (m == nullptr)
        return reply_json(req, 404, {{"error", "Model not found"}});
      return reply_json(req, 200,
                        {{"id", m->value("name", "")},
                         {"object", "model"},
                         {"type", "llm"},
                         {"state", "loaded"},
                         {"max_context_length", 4 * m->value("context_length", 8192)},
                         {"loaded_context_length", m->value("context_length", 8192)}});
    }
  }
  // The tokenizer endpoints of the kinds that have one: vLLM POST /tokenize
  // with messages, TGI POST /chat_tokenize, llama.cpp POST /apply-template
  // and POST /tokenize {content}. Script "tokens_per_word" (default 1) sets
  // the scripted tokenizer; "tokenize_status" makes them fail.
  if ((path == "/tokenize" || path == "/chat_tokenize" || path == "/apply-template") &&
      method == restinio::http_method_post())
    return tokenize(st, req, path);
  if (path == "/_scripted/tokenize" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, st.tokenize_calls);
  }
  if (path == "/_scripted/disconnects" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, {{"disconnects", st.disconnects}});
  }
  if (path == "/api/version")
    return reply_json(req, 200, {{"version", "0.12.3"}});
  if (path == "/api/tags") {
    json out = json::array();
    for (const auto& m : models(st))
      out.push_back({{"name", m["name"]},
                     {"model", m["name"]},
                     {"modified_at", "2026-01-01T12:34:56.123456789-07:00"},
                     {"size", 1321098329},
                     {"digest", "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"},
                     {"details",
                      {{"format", "gguf"},
                       {"family", m.value("family", "llama")},
                       {"families", {m.value("family", "llama")}},
                       {"parameter_size", "1.2B"},
                       {"quantization_level", "Q8_0"}}}});
    return reply_json(req, 200, {{"models", out}});
  }
  if (path == "/api/show" && method == restinio::http_method_post()) {
    auto body = json::parse(req->body(), nullptr, false);
    std::string name = body.is_object() ? body.value("model", body.value("name", "")) : "";
    auto list = models(st);
    const json* m = find_model(list, name);
    if (m == nullptr)
      return reply_json(req, 404, {{"error", "model '" + name + "' not found"}});
    std::string family = m->value("family", "llama");
    std::string parameters = "stop                           \"<|eot_id|>\"";
    if (m->contains("num_ctx")) // as a Modelfile's PARAMETER num_ctx shows it
      parameters = "num_ctx                        " + std::to_string(m->value("num_ctx", 0)) +
                   "\n" + parameters;
    return reply_json(req, 200,
                      {{"modelfile", "FROM " + name},
                       {"parameters", parameters},
                       {"template", "{{ .Prompt }}"},
                       {"modified_at", "2026-01-01T12:34:56.123456789-07:00"},
                       {"details", {{"format", "gguf"}, {"family", family}}},
                       {"model_info",
                        {{"general.architecture", family},
                         {family + ".context_length", m->value("context_length", 8192)}}},
                       {"capabilities", m->value("capabilities", json::array({"completion"}))}});
  }
  if (path == "/_scripted/requests" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, st.requests);
  }
  if (path == "/_scripted/peak" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, {{"streaming", st.streaming}, {"peak", st.streaming_peak}});
  }
  if (path == "/_scripted/expects" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, {{"expects", st.expects}});
  }
  if (path == "/_scripted/requests" && method == restinio::http_method_delete()) {
    std::lock_guard guard{st.mutex};
    st.requests = json::array();
    return reply_json(req, 200, json::object());
  }
  if (path == "/_scripted/release" && method == restinio::http_method_post()) {
    std::lock_guard guard{st.mutex};
    int released = 0;
    for (auto& held : st.held)
      if (auto timer = held.lock())
        released += static_cast<int>(timer->cancel()); // its wait ends, and it replies
    st.held.clear();
    return reply_json(req, 200, {{"released", released}});
  }
  if (path == "/_scripted/script" && method == restinio::http_method_post()) {
    auto body = json::parse(req->body(), nullptr, false);
    if (!body.is_object())
      return reply_json(req, 400, {{"error", "script must be a JSON object"}});
    std::lock_guard guard{st.mutex};
    st.script = body;
    return reply_json(req, 200, json::object());
  }
  // Plain web resources for URL inputs: script {"static": {"/name": {"body":
  // "..." or "body_hex", "content_type", "status": 302, "location": "...",
  // "repeat": N bytes}}}.
  if (path.rfind("/_static/", 0) == 0 && method == restinio::http_method_get()) {
    json entry;
    {
      std::lock_guard guard{st.mutex};
      entry = st.script.value("static", json::object()).value(path.substr(8), json());
    }
    if (!entry.is_object())
      return reply_json(req, 404, {{"error", "no such static resource"}});
    auto status = entry.value("status", 200);
    auto resp = req->create_response(restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(status)}, "Scripted"});
    resp.append_header(restinio::http_field::content_type,
                       entry.value("content_type", std::string{"application/octet-stream"}));
    if (entry.contains("location"))
      resp.append_header(restinio::http_field::location, entry["location"].get<std::string>());
    auto body = entry.value("body", std::string{});
    if (entry.contains("body_hex")) { // binary bodies: JSON strings must be UTF-8
      auto hex = entry["body_hex"].get<std::string>();
      body.clear();
      for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        body.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    if (entry.contains("repeat"))
      body = std::string(entry["repeat"].get<std::size_t>(), 'x');
    return resp.set_body(body).done();
  }
  // SearXNG's JSON API, for the hosted web_search tool: GET
  // /search?q=...&format=json. Script {"searxng": {"results": [{url, title,
  // content}], "status": 502, "delay_ms": N}}; queries are kept for
  // GET /_scripted/searches.
  if (path == "/search" && method == restinio::http_method_get()) {
    std::string query{req->header().query()}, q, format;
    for (std::size_t at = 0; at <= query.size();) {
      auto end = query.find('&', at);
      auto pair = query.substr(at, end == std::string::npos ? std::string::npos : end - at);
      auto eq = pair.find('=');
      auto key = pair.substr(0, eq), value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      std::string decoded;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '%' && i + 2 < value.size()) {
          decoded.push_back(static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16)));
          i += 2;
        } else {
          decoded.push_back(value[i] == '+' ? ' ' : value[i]);
        }
      }
      if (key == "q")
        q = decoded;
      else if (key == "format")
        format = decoded;
      if (end == std::string::npos)
        break;
      at = end + 1;
    }
    json cfg;
    {
      std::lock_guard guard{st.mutex};
      cfg = st.script.value("searxng", json::object());
      st.searches.push_back(q);
    }
    if (format != "json")
      return reply_json(req, 403, {{"error", "format not enabled"}}); // as SearXNG answers
    auto status = cfg.value("status", 200);
    json body{{"query", q},
              {"number_of_results", cfg.value("results", json::array()).size()},
              {"results", cfg.value("results", json::array())},
              {"answers", json::array()},
              {"suggestions", json::array()},
              {"unresponsive_engines", json::array()}};
    auto delay = cfg.value("delay_ms", 0L);
    if (delay <= 0)
      return reply_json(req, status, body);
    auto timer = std::make_shared<restinio::asio_ns::steady_timer>(io);
    timer->expires_after(std::chrono::milliseconds(delay));
    timer->async_wait([timer, req, status, body](const auto&) { reply_json(req, status, body); });
    return restinio::request_accepted();
  }
  // Automatic1111's txt2img: script {"a1111": {"status": 500, "delay_ms": N}}.
  if (path == "/sdapi/v1/txt2img" && method == restinio::http_method_post()) {
    auto body = json::parse(req->body(), nullptr, false);
    json cfg;
    {
      std::lock_guard guard{st.mutex};
      cfg = st.script.value("a1111", json::object());
      st.images.push_back(body);
    }
    auto status = cfg.value("status", 200);
    json answer = status == 200 ? json{{"images", json::array({png_b64})},
                                       {"parameters", body},
                                       {"info", json{{"prompt", body.value("prompt", "")}}.dump()}}
                                : json{{"error", "RuntimeError"}, {"detail", "scripted failure"}};
    auto delay = cfg.value("delay_ms", 0L);
    if (delay <= 0)
      return reply_json(req, status, answer);
    auto timer = std::make_shared<restinio::asio_ns::steady_timer>(io);
    timer->expires_after(std::chrono::milliseconds(delay));
    timer->async_wait(
        [timer, req, status, answer](const auto&) { reply_json(req, status, answer); });
    return restinio::request_accepted();
  }
  // ComfyUI: POST /prompt queues, GET /history/{id} is empty until the job is
  // done (script {"comfyui": {"polls": N, "fail": true}}), GET /view the file.
  if (path == "/prompt" && method == restinio::http_method_post()) {
    auto body = json::parse(req->body(), nullptr, false);
    std::lock_guard guard{st.mutex};
    auto cfg = st.script.value("comfyui", json::object());
    if (!body.is_object() || !body.value("prompt", json()).is_object())
      return reply_json(req, 400, {{"error", {{"type", "invalid_prompt"}}}});
    auto id = "job-" + std::to_string(st.comfy_next++);
    st.comfy_jobs[id] = cfg.value("polls", 2);
    st.images.push_back(body);
    return reply_json(
        req, 200, {{"prompt_id", id}, {"number", st.comfy_next}, {"node_errors", json::object()}});
  }
  if (path.rfind("/history/", 0) == 0 && method == restinio::http_method_get()) {
    auto id = path.substr(9);
    std::lock_guard guard{st.mutex};
    auto it = st.comfy_jobs.find(id);
    if (it == st.comfy_jobs.end() || it->second-- > 0)
      return reply_json(req, 200, json::object());
    bool fail = st.script.value("comfyui", json::object()).value("fail", false);
    json entry{{"status", {{"status_str", fail ? "error" : "success"}, {"completed", !fail}}},
               {"outputs", json::object()}};
    if (!fail)
      entry["outputs"]["9"] = {
          {"images",
           {{{"filename", "riposte_00001_.png"}, {"subfolder", ""}, {"type", "output"}}}}};
    return reply_json(req, 200, {{id, entry}});
  }
  if (path == "/view" && method == restinio::http_method_get()) {
    std::string bytes;
    std::string hex = png_hex;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return req->create_response()
        .append_header(restinio::http_field::content_type, "image/png")
        .set_body(bytes)
        .done();
  }
  if (path == "/_scripted/images" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, st.images);
  }
  if (path == "/_scripted/searches" && method == restinio::http_method_get()) {
    std::lock_guard guard{st.mutex};
    return reply_json(req, 200, st.searches);
  }
  if (path == "/")
    return reply_json(req, 200, "Ollama is running");
  return reply_json(req, 404, {{"error", "404 page not found"}});
}

} // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", script_file, profile = "ollama-v1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--listen")
      listen = argv[i + 1];
    else if (flag == "--script")
      script_file = argv[i + 1];
    else if (flag == "--profile")
      profile = argv[i + 1];
  }
  state st;
  st.profile = profile;
  if (!script_file.empty()) {
    std::ifstream in{script_file};
    st.script = json::parse(in, nullptr, false);
    if (st.script.is_discarded()) {
      std::cerr << "scripted_ollama: " << script_file << " is not JSON\n";
      return 2;
    }
  }
  auto colon = listen.rfind(':');
  restinio::asio_ns::io_context io;
  std::uint16_t port = 0;
  restinio::http_server_t<traits> server{
      restinio::external_io_context(io),
      restinio::server_settings_t<traits>{}
          .address(listen.substr(0, colon))
          .port(static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1))))
          .handle_request_timeout(std::chrono::hours(1))
          .write_http_response_timelimit(std::chrono::hours(1))
          .socket_options_setter(
              [](auto& o) { o.set_option(restinio::asio_ns::ip::tcp::no_delay{true}); })
          .acceptor_post_bind_hook([&port](restinio::asio_ns::ip::tcp::acceptor& a) {
            port = a.local_endpoint().port();
          })
          .request_handler([&](auto req) { return handle(st, io, req); })};
  restinio::asio_ns::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const auto&, int) {
    server.close_async([] {}, [](auto) {});
    io.stop();
  });
  server.open_async(
      [&] {
        std::cout << json{{"port", port}}.dump() << std::endl;
      },
      [](std::exception_ptr ex) {
        try {
          std::rethrow_exception(ex);
        } catch (const std::exception& e) {
          std::cerr << "scripted_ollama: " << e.what() << '\n';
        }
        std::exit(1);
      });
  io.run();
  return 0;
}
