// The upcaster chain: each step turns the stored data of (type, vN) into the
// data of vN+1. Stored events are never edited; they are upcast on read.
#include "events/event.hpp"

#include <functional>
#include <map>
#include <utility>

namespace riposte::events {

namespace {

using step = std::function<nlohmann::json(nlohmann::json)>;

const std::map<std::pair<std::string_view, int>, step>& steps() {
  static const std::map<std::pair<std::string_view, int>, step> table{
      // output_text_delta v1 -> v2: `logprobs` became mandatory (strict SDKs).
      {{"output_text_delta", 1},
       [](nlohmann::json data) {
         if (data.is_object() && !data.contains("logprobs"))
           data["logprobs"] = nlohmann::json::array();
         return data;
       }},
      // response_created v1 -> v2: `mode` was not recorded; only a
      // background request says what it was.
      {{"response_created", 1},
       [](nlohmann::json data) {
         if (data.is_object() && !data.contains("mode")) {
           auto params = data.find("params");
           bool background = params != data.end() && params->is_object() &&
                             params->value("background", nlohmann::json(false)) == true;
           data["mode"] = background ? "background" : "";
         }
         return data;
       }},
  };
  return table;
}

} // namespace

result<nlohmann::json> upcast(std::string_view type, int& version, nlohmann::json data) {
  int current = 0;
  for (const auto& info : known_types())
    if (info.type == type)
      current = info.version;
  if (current == 0)
    return make_error(riposte_errc::unknown_event_type,
                      "unknown event type '" + std::string{type} + "'");
  if (version < 1 || version > current)
    return make_error(riposte_errc::corrupt_event,
                      "event '" + std::string{type} + "' has version " + std::to_string(version) +
                          "; this build reads versions 1 to " + std::to_string(current));
  while (version < current) {
    auto it = steps().find({type, version});
    if (it == steps().end())
      return make_error(riposte_errc::corrupt_event,
                        "no upcaster for '" + std::string{type} + "' v" + std::to_string(version));
    data = it->second(std::move(data));
    ++version;
  }
  return data;
}

} // namespace riposte::events
