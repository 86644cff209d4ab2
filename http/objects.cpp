#include "http/objects.hpp"

#include "actors/prompts.hpp"

namespace riposte::http {

using json = nlohmann::json;

json list_object(json data, bool has_more, const char* id_key) {
  json first = data.empty() ? json() : data.front()[id_key];
  json last = data.empty() ? json() : data.back()[id_key];
  return {{"object", "list"},
          {"data", std::move(data)},
          {"first_id", std::move(first)},
          {"last_id", std::move(last)},
          {"has_more", has_more}};
}

json conversation_items_list(const json& page) {
  return list_object(page.value("data", json::array()), page.value("has_more", false));
}

json conversation_events_list(const json& page) {
  return {{"object", "list"},
          {"data", page.value("data", json::array())},
          {"has_more", page.value("has_more", false)}};
}

json deletion_object(const std::string& id, const char* object) {
  return {{"id", id}, {"object", object}, {"deleted", true}};
}

json file_object(const events::file_uploaded& f) {
  return {{"id", f.file_id},
          {"object", "file"},
          {"bytes", f.bytes},
          {"created_at", f.created_at},
          {"expires_at", f.expires_at ? json(f.expires_at) : json()},
          {"filename", f.filename},
          {"purpose", f.purpose},
          {"status", "processed"},
          {"status_details", nullptr}};
}

json prompt_object(const events::prompt_version_created& v) {
  return {{"id", v.prompt_id},
          {"object", "prompt"},
          {"version", std::to_string(v.prompt_version)},
          {"name", v.name.empty() ? json() : json(v.name)},
          {"instructions", v.instructions},
          {"input", v.input},
          {"variables", actors::prompt_variables(v.instructions, v.input)},
          {"metadata", v.metadata.is_object() ? v.metadata : json::object()},
          {"created_at", v.created_at}};
}

} // namespace riposte::http
