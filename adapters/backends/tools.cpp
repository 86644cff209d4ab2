// tool_plan: flattening, narrowing and mapping back.
#include "adapters/backends/tools.hpp"

#include "events/json_safe.hpp"

#include <set>

namespace riposte::adapters::backends {

using json = nlohmann::json;

namespace {

json function_definition(const std::string& flat, const json& tool) {
  auto description = tool.value("description", json());
  return {{"type", "function"},
          {"function",
           {{"name", flat},
            {"description", description.is_string() ? description : json("")},
            {"parameters", tool.value("parameters", json()).is_object()
                               ? tool["parameters"]
                               : json{{"type", "object"}, {"properties", json::object()}}}}}};
}

// A custom tool takes free-form text: one string argument, `input`, whose
// description carries the declared format (a grammar, when there is one).
json custom_definition(const std::string& flat, const json& tool) {
  std::string about = "Free-form text input for the tool.";
  auto format = tool.value("format", json::object());
  if (format.is_object() && events::string_or(format, "type", "") == "grammar")
    about = "Text that follows this " + events::string_or(format, "syntax", "") + " grammar:\n" +
            events::string_or(format, "definition", "");
  auto description = tool.value("description", json());
  return {{"type", "function"},
          {"function",
           {{"name", flat},
            {"description", description.is_string() ? description : json("")},
            {"parameters",
             {{"type", "object"},
              {"properties", {{"input", {{"type", "string"}, {"description", about}}}}},
              {"required", json::array({"input"})}}}}}};
}

// What the model sees of a hosted image_generation tool riposte serves.
json image_generation_definition() {
  return {{"type", "function"},
          {"function",
           {{"name", "image_generation"},
            {"description",
             "Generate an image from a text description. The image is shown to the user; "
             "describe it in detail (subject, style, composition, colours)."},
            {"parameters",
             {{"type", "object"},
              {"properties",
               {{"prompt",
                 {{"type", "string"}, {"description", "A detailed description of the image."}}}}},
              {"required", json::array({"prompt"})}}}}}};
}

// What the model sees of a hosted web_search tool riposte serves.
json web_search_definition() {
  return {
      {"type", "function"},
      {"function",
       {{"name", "web_search"},
        {"description",
         "Search the web for current information. Returns the titles, URLs and snippets of "
         "the best results; cite the URLs you use."},
        {"parameters",
         {{"type", "object"},
          {"properties", {{"query", {{"type", "string"}, {"description", "What to search for."}}}}},
          {"required", json::array({"query"})}}}}}};
}

} // namespace

std::string tool_plan::flat_name(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "__" + name;
}

bool is_web_search(const std::string& type) {
  return type.rfind("web_search", 0) == 0;
}

tool_plan::tool_plan(const json& params, bool local_search, bool local_images) {
  auto add = [&](const json& tool, const std::string& ns) {
    auto kind = events::string_or(tool, "type", "");
    if (local_images && ns.empty() && kind == "image_generation" &&
        !tools_.count("image_generation")) {
      tools_.emplace("image_generation", declared_tool{"image_generation", "image_generation", "",
                                                       image_generation_definition()});
      offered_.push_back("image_generation");
      return;
    }
    if (local_search && ns.empty() && is_web_search(kind) && !tools_.count("web_search")) {
      tools_.emplace("web_search",
                     declared_tool{"web_search", "web_search", "", web_search_definition()});
      offered_.push_back("web_search");
      return;
    }
    if (kind != "function" && kind != "custom")
      return;
    auto name = events::string_or(tool, "name", "");
    auto flat = flat_name(ns, name);
    auto definition =
        kind == "function" ? function_definition(flat, tool) : custom_definition(flat, tool);
    if (tools_.emplace(flat, declared_tool{kind, name, ns, std::move(definition)}).second)
      offered_.push_back(flat);
  };
  for (const auto& tool : params.value("tools", json::array())) {
    if (!tool.is_object())
      continue;
    if (events::string_or(tool, "type", "") == "namespace") {
      for (const auto& inner : tool.value("tools", json::array()))
        if (inner.is_object())
          add(inner, events::string_or(tool, "name", ""));
    } else {
      add(tool, "");
    }
  }

  // tool_choice narrows what is offered; what the backend cannot be made to
  // do (call something) becomes an instruction.
  auto choice = params.value("tool_choice", json("auto"));
  auto keep_only = [&](const std::set<std::string>& names) {
    std::vector<std::string> kept;
    for (const auto& flat : offered_)
      if (names.count(flat))
        kept.push_back(flat);
    offered_ = std::move(kept);
  };
  auto names_of = [&](const json& refs) {
    std::set<std::string> names;
    for (const auto& ref : refs) {
      if (!ref.is_object())
        continue;
      auto wanted = events::string_or(ref, "name", "");
      for (const auto& [flat, t] : tools_)
        if (t.name == wanted &&
            (t.kind == events::string_or(ref, "type", "") || !ref.contains("type")))
          names.insert(flat);
    }
    return names;
  };
  if (choice == "none") {
    offered_.clear();
  } else if (choice == "required") {
    instruction_ = "You must call at least one of the provided tools in this turn.";
  } else if (choice.is_object()) {
    auto type = events::string_or(choice, "type", "");
    if (type == "function" || type == "custom") {
      keep_only(names_of(json::array({choice})));
      instruction_ =
          "You must call the tool '" + events::string_or(choice, "name", "") + "' in this turn.";
    } else if (type == "allowed_tools") {
      keep_only(names_of(choice.value("tools", json::array())));
      if (events::string_or(choice, "mode", "auto") == "required")
        instruction_ = "You must call at least one of the provided tools in this turn.";
    } else if (type == "image_generation" && tools_.count("image_generation")) {
      keep_only({"image_generation"});
      instruction_ = "You must call the tool 'image_generation' in this turn.";
    } else if (is_web_search(type) && tools_.count("web_search")) {
      keep_only({"web_search"});
      instruction_ = "You must call the tool 'web_search' in this turn.";
    } else {
      offered_.clear(); // a hosted tool riposte does not serve: nothing to call
    }
  }
  if (offered_.empty())
    instruction_.clear();

  if (params.value("parallel_tool_calls", json(true)) == false)
    max_calls_ = 1;
  auto max = params.value("max_tool_calls", json());
  if (max.is_number_integer() && max.get<std::int64_t>() > 0)
    max_calls_ = std::min(max_calls_, static_cast<std::size_t>(max.get<std::int64_t>()));
}

json tool_plan::backend_tools() const {
  json out = json::array();
  for (const auto& flat : offered_)
    out.push_back(tools_.at(flat).definition);
  return out;
}

std::string tool_plan::choice_instruction() const {
  return instruction_;
}

const declared_tool* tool_plan::find(const std::string& backend_name) const {
  auto it = tools_.find(backend_name);
  return it == tools_.end() ? nullptr : &it->second;
}

json backend_call(const json& item) {
  auto flat = tool_plan::flat_name(
      item.value("namespace", json()).is_string() ? item["namespace"].get<std::string>() : "",
      events::string_or(item, "name", ""));
  json arguments = json::object();
  if (events::string_or(item, "type", "") == "custom_tool_call") {
    arguments["input"] = events::string_or(item, "input", "");
  } else {
    auto parsed = events::parse_untrusted(events::string_or(item, "arguments", "{}"));
    if (parsed.is_object())
      arguments = std::move(parsed);
  }
  return {{"function", {{"name", flat}, {"arguments", arguments}}}};
}

} // namespace riposte::adapters::backends
