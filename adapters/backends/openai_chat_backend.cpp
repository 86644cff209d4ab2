// A Chat Completions server as a backend: POST /v1/chat/completions (SSE),
// GET /v1/models.
#include "adapters/backends/generation.hpp"
#include "adapters/backends/http_client.hpp"
#include "adapters/backends/openai_chat.hpp"
#include "events/json_safe.hpp"

namespace riposte::adapters::backends {

namespace ev = events;
using json = nlohmann::json;

std::vector<actors::model_info> chat_models(const json& reply) {
  std::vector<actors::model_info> models;
  auto data = reply.is_object() ? reply.find("data") : reply.end();
  if (!reply.is_object() || data == reply.end() || !data->is_array())
    return models;
  for (const auto& m : *data) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string())
      continue;
    actors::model_info info;
    info.id = m["id"].get<std::string>();
    if (auto created = m.find("created"); created != m.end() && created->is_number_integer())
      info.created = std::max<std::int64_t>(0, created->get<std::int64_t>());
    if (auto owner = m.find("owned_by"); owner != m.end() && owner->is_string())
      info.owned_by = owner->get<std::string>();
    // vLLM and SGLang say the window they run with; it is also the longest
    // the model can take there.
    if (auto len = m.find("max_model_len");
        len != m.end() && len->is_number_integer() && len->get<std::int64_t>() > 0) {
      info.context_length = len->get<std::int64_t>();
      info.num_ctx = info.context_length;
    }
    // A Chat Completions server does not say what a model can do; riposte
    // lets the server itself refuse what it cannot (its error is passed on).
    info.capabilities = {"completion", "tools", "thinking", "vision"};
    models.push_back(std::move(info));
  }
  return models;
}

std::int64_t chat_window(const std::string& kind, const json& reply) {
  auto number = [](const json& obj, const char* key) -> std::int64_t {
    if (!obj.is_object())
      return 0;
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer()
               ? std::max<std::int64_t>(0, it->get<std::int64_t>())
               : 0;
  };
  if (kind == "llamacpp")
    return number(reply.value("default_generation_settings", json::object()), "n_ctx");
  if (kind == "tgi")
    return number(reply, "max_total_tokens");
  if (kind == "lmstudio") {
    auto loaded = number(reply, "loaded_context_length");
    return loaded > 0 ? loaded : number(reply, "max_context_length");
  }
  return 0;
}

namespace {

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

  void
  list_models(std::function<void(events::result<std::vector<actors::model_info>>)> done) override {
    fetch_json(
        client_, request("GET", "/v1/models"), "/v1/models", [done](long, ev::result<json> j) {
          if (!j)
            return done(j.error());
          if (!j->contains("data") || !(*j)["data"].is_array())
            return done(ev::make_error(ev::riposte_errc::backend_unavailable,
                                       "the backend's /v1/models reply is not a model list"));
          done(chat_models(*j));
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
        m.capabilities = {"completion", "tools", "thinking", "vision"};
        return with_window(std::move(m), done);
      }
      done(ev::make_error(ev::riposte_errc::model_not_found,
                          "The requested model '" + name + "' does not exist.", "model"));
    });
  }

  // Chat Completions servers share no version endpoint; the model list is
  // the probe every kind answers, and who owns its models names the server.
  void version(std::function<void(events::result<std::string>)> done) override {
    fetch_json(client_, request("GET", "/v1/models"), "/v1/models",
               [done, kind = opts_.profile.kind](long, ev::result<json> j) {
                 if (!j)
                   return done(j.error());
                 auto models = chat_models(*j);
                 std::string owner = models.empty() ? "" : models.front().owned_by;
                 done(kind + (owner.empty() ? "" : " (" + owner + ")") + ", " +
                      std::to_string(models.size()) + " model" + (models.size() == 1 ? "" : "s"));
               });
  }

private:
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
};

} // namespace

std::unique_ptr<actors::backend> make_openai_chat_backend(const openai_chat_options& opts) {
  return std::make_unique<openai_chat_backend>(opts);
}

} // namespace riposte::adapters::backends
