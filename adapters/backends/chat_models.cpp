// What Chat Completions servers say about their models: the /v1/models list
// and each kind's own window endpoint.
#include "adapters/backends/openai_chat.hpp"

#include <algorithm>

namespace riposte::adapters::backends {

using json = nlohmann::json;

const std::vector<std::string>& unstated_capabilities() {
  static const std::vector<std::string> all{"completion", "tools", "thinking", "vision"};
  return all;
}

std::vector<actors::model_info> chat_models(const json& reply) {
  std::vector<actors::model_info> models;
  auto data = reply.is_object() ? reply.find("data") : reply.end();
  if (!reply.is_object() || data == reply.end() || !data->is_array())
    return models;
  for (const auto& m : *data) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string() ||
        m["id"].get_ref<const std::string&>().empty())
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
    info.capabilities = unstated_capabilities();
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
  if (!reply.is_object())
    return 0;
  if (kind == "llamacpp") {
    auto settings = reply.find("default_generation_settings");
    return settings == reply.end() ? 0 : number(*settings, "n_ctx");
  }
  if (kind == "tgi")
    return number(reply, "max_total_tokens");
  if (kind == "lmstudio") {
    auto loaded = number(reply, "loaded_context_length");
    return loaded > 0 ? loaded : number(reply, "max_context_length");
  }
  return 0;
}

} // namespace riposte::adapters::backends
