// Validation of Responses requests, with the OpenAI API's error wording.
#include "http/validate.hpp"

#include "adapters/schema/json_schema.hpp"
#include "events/ids.hpp"
#include "events/json_object.hpp"
#include "events/json_safe.hpp"
#include "projections/response_view.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

namespace riposte::http {

namespace {

using json = nlohmann::json;
namespace ev = events;
using ev::riposte_errc;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a decimal";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "an unknown type";
  }
}

ev::error_info wrong_type(const std::string& param, const char* expected, const json& got) {
  return ev::make_error(riposte_errc::invalid_type,
                        "Invalid type for '" + param + "': expected " + expected + ", but got " +
                            type_name(got) + " instead.",
                        param);
}

ev::error_info bad_value(const std::string& param, const std::string& why) {
  return ev::make_error(riposte_errc::invalid_value, "Invalid value for '" + param + "': " + why,
                        param);
}

ev::error_info missing(const std::string& param) {
  return ev::make_error(riposte_errc::missing_parameter,
                        "Missing required parameter: '" + param + "'.", param);
}

// Tools as the Response echoes them: a function tool always carries
// description and parameters (null when not sent) and strict, which when not
// sent is whether its schema meets strict mode's rules (the API's own
// fallback). Other tools are echoed as sent.
json echoed_tools(const json& tools) {
  json out = json::array();
  for (auto tool : tools) {
    if (tool.is_object() && tool.value("type", "") == "function") {
      for (const char* field : {"description", "parameters"})
        if (!tool.contains(field))
          tool[field] = nullptr;
      if (!tool.contains("strict") || tool["strict"].is_null())
        tool["strict"] = adapters::schema::strict_compatible(tool["parameters"]);
    }
    out.push_back(std::move(tool));
  }
  return out;
}

// Every top-level field of the current SDK's ResponseCreateParams, plus what
// real clients add (Codex: client_metadata).
const std::set<std::string>& known_fields() {
  static const std::set<std::string> fields{"model",
                                            "input",
                                            "instructions",
                                            "previous_response_id",
                                            "store",
                                            "stream",
                                            "stream_options",
                                            "background",
                                            "include",
                                            "max_output_tokens",
                                            "max_tool_calls",
                                            "metadata",
                                            "parallel_tool_calls",
                                            "prompt",
                                            "prompt_cache_key",
                                            "prompt_cache_retention",
                                            "reasoning",
                                            "safety_identifier",
                                            "service_tier",
                                            "temperature",
                                            "presence_penalty",
                                            "frequency_penalty",
                                            "text",
                                            "tool_choice",
                                            "tools",
                                            "top_logprobs",
                                            "top_p",
                                            "truncation",
                                            "user",
                                            "conversation",
                                            "context_management",
                                            "client_metadata",
                                            "access_programs",
                                            "image",
                                            "moderation",
                                            "prompt_cache_options"};
  return fields;
}

std::optional<ev::error_info> check_string_or_null(const json& body, const char* name) {
  if (body.contains(name) && !body[name].is_null() && !body[name].is_string())
    return wrong_type(name, "a string", body[name]);
  return std::nullopt;
}

std::optional<ev::error_info> check_number(const json& body, const char* name, double lo,
                                           double hi) {
  if (!body.contains(name) || body[name].is_null())
    return std::nullopt;
  const auto& v = body[name];
  if (!v.is_number())
    return wrong_type(name, "a decimal", v);
  auto d = v.get<double>();
  if (d < lo || d > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "decimal out of range. Expected a value between %g and %g, but "
                  "got %g instead.",
                  lo, hi, d);
    return bad_value(name, buf);
  }
  return std::nullopt;
}

std::optional<ev::error_info> check_integer(const json& body, const char* name, std::int64_t lo,
                                            std::int64_t hi) {
  if (!body.contains(name) || body[name].is_null())
    return std::nullopt;
  const auto& v = body[name];
  if (!v.is_number_integer())
    return wrong_type(name, "an integer", v);
  auto i = v.get<std::int64_t>();
  if (i < lo)
    return bad_value(name, "integer below minimum value. Expected a value >= " +
                               std::to_string(lo) + ", but got " + std::to_string(i) + " instead.");
  if (i > hi)
    return bad_value(name, "integer above maximum value. Expected a value <= " +
                               std::to_string(hi) + ", but got " + std::to_string(i) + " instead.");
  return std::nullopt;
}

std::optional<ev::error_info> check_bool(const json& body, const char* name) {
  if (body.contains(name) && !body[name].is_null() && !body[name].is_boolean())
    return wrong_type(name, "a boolean", body[name]);
  return std::nullopt;
}

std::optional<ev::error_info> check_enum(const json& v, const std::string& param,
                                         const std::set<std::string>& allowed, bool nullable) {
  if (v.is_null() && nullable)
    return std::nullopt;
  if (!v.is_string())
    return wrong_type(param, "a string", v);
  if (allowed.count(v.get<std::string>()) == 0) {
    std::string list;
    for (const auto& a : allowed)
      list += (list.empty() ? "'" : ", '") + a + "'";
    return bad_value(param, "'" + v.get<std::string>() + "'. Supported values are: " + list + ".");
  }
  return std::nullopt;
}

std::optional<ev::error_info> check_metadata(const json& body) {
  if (!body.contains("metadata") || body["metadata"].is_null())
    return std::nullopt;
  const auto& m = body["metadata"];
  if (!m.is_object())
    return wrong_type("metadata", "an object", m);
  if (m.size() > 16)
    return ev::make_error(riposte_errc::too_many_properties,
                          "Invalid 'metadata': too many properties. Expected an object with at "
                          "most 16 properties, but got an object with " +
                              std::to_string(m.size()) + " properties instead.",
                          "metadata");
  for (const auto& [k, v] : m.items()) {
    if (k.size() > 64)
      return bad_value("metadata", "key '" + k.substr(0, 64) +
                                       "...' is too long. Expected at most 64 characters.");
    if (!v.is_string())
      return wrong_type("metadata." + k, "a string", v);
    if (v.get<std::string>().size() > 512)
      return bad_value("metadata." + k, "string too long. Expected at most 512 characters.");
  }
  return std::nullopt;
}

const std::set<std::string> roles{"user", "assistant", "system", "developer"};

// Validates one content part of a message at `param`.
std::optional<ev::error_info> check_part(const json& part, const std::string& param,
                                         const std::string& role) {
  if (!part.is_object())
    return wrong_type(param, "an object", part);
  if (!part.contains("type"))
    return missing(param + ".type");
  auto type = part["type"];
  if (!type.is_string())
    return wrong_type(param + ".type", "a string", type);
  auto t = type.get<std::string>();
  if (t == "input_text" || t == "output_text" || t == "text") {
    if (!part.contains("text"))
      return missing(param + ".text");
    if (!part["text"].is_string())
      return wrong_type(param + ".text", "a string", part["text"]);
    return std::nullopt;
  }
  if (t == "refusal") {
    if (!part.contains("refusal") || !part["refusal"].is_string())
      return missing(param + ".refusal");
    return std::nullopt;
  }
  if (t == "input_image") {
    if (role == "assistant")
      return bad_value(param + ".type", "'input_image' parts are only allowed in user messages.");
    if (part.contains("file_id") && !part["file_id"].is_null()) {
      if (!part["file_id"].is_string())
        return wrong_type(param + ".file_id", "a string", part["file_id"]);
      if (part.contains("image_url") && !part["image_url"].is_null())
        return bad_value(param, "give either 'image_url' or 'file_id', not both.");
      return std::nullopt;
    }
    if (!part.contains("image_url") || !part["image_url"].is_string())
      return missing(param + ".image_url");
    const auto& url = part["image_url"].get_ref<const std::string&>();
    if (url.rfind("data:image/", 0) != 0 && url.rfind("http://", 0) != 0 &&
        url.rfind("https://", 0) != 0)
      return bad_value(param + ".image_url", "expected a data:image/... URL or an http(s) URL.");
    return std::nullopt;
  }
  if (t == "input_file") {
    if (role == "assistant")
      return bad_value(param + ".type", "'input_file' parts are only allowed in user messages.");
    int given = 0;
    for (const char* field : {"file_id", "file_data", "file_url"}) {
      if (!part.contains(field) || part[field].is_null())
        continue;
      ++given;
      if (!part[field].is_string())
        return wrong_type(param + "." + field, "a string", part[field]);
    }
    if (given != 1)
      return bad_value(param, "give exactly one of 'file_id', 'file_data' and 'file_url'.");
    if (part.contains("file_url") && part["file_url"].is_string() &&
        part["file_url"].get_ref<const std::string&>().rfind("http://", 0) != 0 &&
        part["file_url"].get_ref<const std::string&>().rfind("https://", 0) != 0)
      return bad_value(param + ".file_url", "expected an http(s) URL.");
    if (part.contains("file_data") && !part["file_data"].is_null() &&
        !part.value("filename", json()).is_string())
      return missing(param + ".filename");
    return std::nullopt;
  }
  if (t == "input_audio")
    return ev::make_error(riposte_errc::unsupported_parameter,
                          "Content parts of type '" + t + "' are not supported yet.",
                          param + ".type");
  return bad_value(param + ".type", "'" + t +
                                        "'. Supported values are: 'input_text', "
                                        "'input_image', 'input_file', 'output_text' and "
                                        "'refusal'.");
}

std::optional<ev::error_info> check_item(json& item, const std::string& param) {
  if (!item.is_object())
    return wrong_type(param, "an object", item);
  if (!item.contains("type") || item["type"].is_null()) {
    // {id} alone is a reference (the SDKs' ItemReference has an optional
    // type); anything else without a type is a message.
    if (!item.contains("role") && item.contains("id") && !item.contains("content"))
      item["type"] = "item_reference";
    else if (!item.contains("role"))
      return missing(param + ".role");
    else
      item["type"] = "message";
  }
  if (!item["type"].is_string())
    return wrong_type(param + ".type", "a string", item["type"]);
  auto type = item["type"].get<std::string>();
  if (item.contains("id") && !item["id"].is_null() && !item["id"].is_string())
    return wrong_type(param + ".id", "a string", item["id"]);
  if (type == "message") {
    if (!item.contains("role"))
      return missing(param + ".role");
    if (auto e = check_enum(item["role"], param + ".role", roles, false))
      return e;
    auto role = item["role"].get<std::string>();
    if (!item.contains("content"))
      return missing(param + ".content");
    auto& content = item["content"];
    if (content.is_string()) {
      // Stored in the canonical part form, as input_items shows it.
      content =
          ev::array_of(ev::object_of({{"type", role == "assistant" ? "output_text" : "input_text"},
                                      {"text", std::move(content)}}));
      if (role == "assistant") {
        content[0]["annotations"] = json::array();
      }
      return std::nullopt;
    }
    if (!content.is_array())
      return wrong_type(param + ".content", "a string or an array", content);
    for (std::size_t i = 0; i < content.size(); ++i)
      if (auto e = check_part(content[i], param + ".content[" + std::to_string(i) + "]", role))
        return e;
    return std::nullopt;
  }
  if (type == "function_call" || type == "custom_tool_call") {
    for (const char* field : {"call_id", "name", type == "function_call" ? "arguments" : "input"}) {
      if (!item.contains(field))
        return missing(param + "." + field);
      if (!item[field].is_string())
        return wrong_type(param + "." + field, "a string", item[field]);
    }
    if (item.contains("namespace") && !item["namespace"].is_null() &&
        !item["namespace"].is_string())
      return wrong_type(param + ".namespace", "a string", item["namespace"]);
    return std::nullopt;
  }
  if (type == "function_call_output" || type == "custom_tool_call_output") {
    if (!item.contains("call_id"))
      return missing(param + ".call_id");
    if (!item["call_id"].is_string())
      return wrong_type(param + ".call_id", "a string", item["call_id"]);
    if (!item.contains("output"))
      return missing(param + ".output");
    if (!item["output"].is_string() && !item["output"].is_array())
      return wrong_type(param + ".output", "a string or an array", item["output"]);
    return std::nullopt;
  }
  if (type == "reasoning") {
    if (item.contains("summary") && !item["summary"].is_array())
      return wrong_type(param + ".summary", "an array", item["summary"]);
    return std::nullopt;
  }
  if (type == "compaction") {
    if (!item.contains("encrypted_content"))
      return missing(param + ".encrypted_content");
    if (!item["encrypted_content"].is_string())
      return wrong_type(param + ".encrypted_content", "a string", item["encrypted_content"]);
    return std::nullopt;
  }
  if (type == "item_reference") {
    if (!item.contains("id") || item["id"].is_null())
      return missing(param + ".id");
    for (auto it = item.begin(); it != item.end(); ++it)
      if (it.key() != "type" && it.key() != "id")
        return ev::make_error(riposte_errc::unknown_parameter,
                              "Unknown parameter: '" + param + "." + ev::excerpt(it.key()) + "'.",
                              param + "." + ev::excerpt(it.key()));
    return std::nullopt;
  }
  return ev::make_error(riposte_errc::unsupported_parameter,
                        "Input items of type '" + type + "' are not supported yet.",
                        param + ".type");
}

// context_management: [{type: "compaction", compact_threshold}].
std::optional<ev::error_info> check_context_management(const json& body) {
  if (!body.contains("context_management") || body["context_management"].is_null())
    return std::nullopt;
  const auto& list = body["context_management"];
  if (!list.is_array())
    return wrong_type("context_management", "an array", list);
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto param = "context_management[" + std::to_string(i) + "]";
    const auto& entry = list[i];
    if (!entry.is_object())
      return wrong_type(param, "an object", entry);
    if (!entry.contains("type"))
      return missing(param + ".type");
    if (entry["type"] != "compaction")
      return bad_value(param + ".type", "expected 'compaction' (the only context management "
                                        "entry type).");
    for (const auto& [key, value] : entry.items())
      if (key != "type" && key != "compact_threshold")
        return ev::make_error(riposte_errc::unknown_parameter,
                              "Unknown parameter: '" + param + "." + ev::excerpt(key) + "'.",
                              param + "." + ev::excerpt(key));
    if (entry.contains("compact_threshold") && !entry["compact_threshold"].is_null() &&
        (!entry["compact_threshold"].is_number_integer() ||
         entry["compact_threshold"].get<std::int64_t>() < 1))
      return wrong_type(param + ".compact_threshold", "a positive integer",
                        entry["compact_threshold"]);
  }
  return std::nullopt;
}

// prompt: {id, version, variables}: a stored template and its values.
std::optional<ev::error_info> check_prompt(const json& body) {
  if (!body.contains("prompt") || body["prompt"].is_null())
    return std::nullopt;
  const auto& p = body["prompt"];
  if (!p.is_object())
    return wrong_type("prompt", "an object", p);
  for (const auto& [key, value] : p.items())
    if (key != "id" && key != "version" && key != "variables")
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: 'prompt." + ev::excerpt(key) + "'.",
                            "prompt." + ev::excerpt(key));
  if (!p.contains("id"))
    return missing("prompt.id");
  if (!p["id"].is_string() || p["id"].get<std::string>().empty())
    return wrong_type("prompt.id", "a non-empty string", p["id"]);
  if (p.contains("version") && !p["version"].is_null() && !p["version"].is_string())
    return wrong_type("prompt.version", "a string", p["version"]);
  if (!p.contains("variables") || p["variables"].is_null())
    return std::nullopt;
  if (!p["variables"].is_object())
    return wrong_type("prompt.variables", "an object", p["variables"]);
  for (const auto& [name, value] : p["variables"].items()) {
    auto param = "prompt.variables." + name;
    if (value.is_string())
      continue;
    if (!value.is_object() || !value.value("type", json()).is_string())
      return wrong_type(param, "a string or an input_text, input_image or input_file object",
                        value);
    auto type = value["type"].get<std::string>();
    if (type != "input_text" && type != "input_image" && type != "input_file")
      return bad_value(param + ".type",
                       "'" + type + "'. Expected input_text, input_image or input_file.");
    if (auto e = check_part(value, param, "user"))
      return e;
  }
  return std::nullopt;
}

std::string id_prefix(const std::string& type) {
  if (type == "message")
    return "msg_";
  if (type == "function_call")
    return "fc_";
  if (type == "function_call_output")
    return "fco_";
  if (type == "custom_tool_call")
    return "ctc_";
  if (type == "custom_tool_call_output")
    return "ctco_";
  if (type == "reasoning")
    return "rs_";
  if (type == "compaction")
    return "cmp_";
  return "item_";
}

// Hosted tool types of the API. riposte serves none of them without a
// configured provider: they are accepted, echoed, and not offered to the
// backend (see the manifest).
const std::set<std::string> hosted_tools{"web_search",
                                         "web_search_2025_08_26",
                                         "web_search_preview",
                                         "web_search_preview_2025_03_11",
                                         "file_search",
                                         "computer",
                                         "computer_use_preview",
                                         "code_interpreter",
                                         "image_generation",
                                         "mcp",
                                         "local_shell",
                                         "shell",
                                         "apply_patch",
                                         "tool_search",
                                         "programmatic_tool_calling"};

std::optional<ev::error_info> check_tool_name(const json& t, const std::string& param) {
  if (!t.contains("name"))
    return missing(param + ".name");
  if (!t["name"].is_string())
    return wrong_type(param + ".name", "a string", t["name"]);
  auto name = t["name"].get<std::string>();
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!ok)
    return bad_value(param + ".name", "string does not match pattern. Expected a string that "
                                      "matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.");
  return std::nullopt;
}

std::optional<ev::error_info> check_optional(const json& t, const std::string& param,
                                             const char* field, const char* expected,
                                             bool (json::*is)() const noexcept) {
  if (t.contains(field) && !t[field].is_null() && !(t[field].*is)())
    return wrong_type(param + "." + field, expected, t[field]);
  return std::nullopt;
}

// A function or custom tool, at the top level or inside a namespace.
std::optional<ev::error_info> check_callable_tool(const json& t, const std::string& param) {
  if (auto e = check_tool_name(t, param))
    return e;
  if (auto e = check_optional(t, param, "description", "a string", &json::is_string))
    return e;
  if (t["type"] == "function") {
    if (auto e = check_optional(t, param, "parameters", "an object", &json::is_object))
      return e;
    if (auto e = check_optional(t, param, "strict", "a boolean", &json::is_boolean))
      return e;
    if (t.contains("parameters") && t["parameters"].is_object()) {
      if (t["parameters"].contains("type") && t["parameters"]["type"] != "object")
        return bad_value(param + ".parameters",
                         "schema must be a JSON Schema of 'type: \"object\"', got 'type: " +
                             ev::excerpt(ev::dump_json(t["parameters"]["type"])) + "'.");
      if (auto compiled = adapters::schema::json_schema::compile(t["parameters"]); !compiled)
        return bad_value(param + ".parameters",
                         "invalid JSON Schema: " + compiled.error().message + ".");
    }
    return std::nullopt;
  }
  if (auto e = check_optional(t, param, "format", "an object", &json::is_object))
    return e;
  if (t.contains("format") && t["format"].is_object()) {
    const auto& f = t["format"];
    if (auto e =
            check_enum(f.value("type", json()), param + ".format.type", {"text", "grammar"}, false))
      return e;
    if (f["type"] == "grammar") {
      if (auto e = check_enum(f.value("syntax", json()), param + ".format.syntax",
                              {"lark", "regex"}, false))
        return e;
      if (!f.contains("definition") || !f["definition"].is_string())
        return missing(param + ".format.definition");
    }
  }
  return std::nullopt;
}

std::optional<ev::error_info> check_tools(const json& body, const create_limits& limits) {
  if (!body.contains("tools") || body["tools"].is_null())
    return std::nullopt;
  const auto& tools = body["tools"];
  if (!tools.is_array())
    return wrong_type("tools", "an array", tools);
  if (tools.size() > limits.max_tools)
    return bad_value("tools", "array too long. Expected at most " +
                                  std::to_string(limits.max_tools) + " tools.");
  // The names a model calls: `name`, or `namespace.name`; each only once.
  std::map<std::string, std::string> seen; // callable name -> param
  auto unique = [&](const std::string& callable,
                    const std::string& param) -> std::optional<ev::error_info> {
    auto [it, fresh] = seen.emplace(callable, param);
    if (!fresh)
      return bad_value(param + ".name", "duplicate tool name '" + callable + "' (also at " +
                                            it->second + "). Tool names must be unique.");
    return std::nullopt;
  };
  for (std::size_t i = 0; i < tools.size(); ++i) {
    auto param = "tools[" + std::to_string(i) + "]";
    const auto& t = tools[i];
    if (!t.is_object())
      return wrong_type(param, "an object", t);
    if (!t.contains("type"))
      return missing(param + ".type");
    if (!t["type"].is_string())
      return wrong_type(param + ".type", "a string", t["type"]);
    auto type = t["type"].get<std::string>();
    if (type == "function" || type == "custom") {
      if (auto e = check_callable_tool(t, param))
        return e;
      if (auto e = unique(t["name"].get<std::string>(), param))
        return e;
    } else if (type == "namespace") {
      if (auto e = check_tool_name(t, param))
        return e;
      if (auto e = check_optional(t, param, "description", "a string", &json::is_string))
        return e;
      if (!t.contains("tools"))
        return missing(param + ".tools");
      if (!t["tools"].is_array() || t["tools"].empty())
        return bad_value(param + ".tools", "a namespace needs a non-empty array of tools.");
      auto ns = t["name"].get<std::string>();
      for (std::size_t j = 0; j < t["tools"].size(); ++j) {
        auto inner_param = param + ".tools[" + std::to_string(j) + "]";
        const auto& inner = t["tools"][j];
        if (!inner.is_object())
          return wrong_type(inner_param, "an object", inner);
        if (auto e = check_enum(inner.value("type", json()), inner_param + ".type",
                                {"function", "custom"}, false))
          return e;
        if (auto e = check_callable_tool(inner, inner_param))
          return e;
        if (auto e = unique(ns + "." + inner["name"].get<std::string>(), inner_param))
          return e;
      }
    } else if (hosted_tools.count(type) == 0) {
      return bad_value(param + ".type",
                       "'" + type +
                           "'. Supported values are: 'function', 'custom', 'namespace' and the "
                           "hosted tool types (web_search, file_search, code_interpreter, "
                           "image_generation, mcp, shell, apply_patch, ...).");
    }
  }
  return std::nullopt;
}

std::optional<ev::error_info> check_text(const json& body) {
  if (!body.contains("text") || body["text"].is_null())
    return std::nullopt;
  const auto& text = body["text"];
  if (!text.is_object())
    return wrong_type("text", "an object", text);
  if (text.contains("verbosity"))
    if (auto e = check_enum(text["verbosity"], "text.verbosity", {"low", "medium", "high"}, true))
      return e;
  if (!text.contains("format") || text["format"].is_null())
    return std::nullopt;
  const auto& f = text["format"];
  if (!f.is_object())
    return wrong_type("text.format", "an object", f);
  if (!f.contains("type"))
    return missing("text.format.type");
  if (auto e =
          check_enum(f["type"], "text.format.type", {"text", "json_object", "json_schema"}, false))
    return e;
  if (f["type"] == "json_schema") {
    if (!f.contains("name"))
      return missing("text.format.name");
    if (!f["name"].is_string())
      return wrong_type("text.format.name", "a string", f["name"]);
    if (!f.contains("schema"))
      return missing("text.format.schema");
    if (!f["schema"].is_object())
      return wrong_type("text.format.schema", "an object", f["schema"]);
    if (auto compiled = adapters::schema::json_schema::compile(f["schema"]); !compiled)
      return bad_value("text.format.schema", "invalid JSON Schema for response format '" +
                                                 f["name"].get<std::string>() +
                                                 "': " + compiled.error().message + ".");
  }
  return std::nullopt;
}

// Is there a tool of `type` named `name` (inside any namespace too)?
bool has_tool(const json& tools, const std::string& type, const std::string& name) {
  for (const auto& t : tools) {
    if (!t.is_object())
      continue;
    if (t.value("type", "") == type && t.value("name", "") == name)
      return true;
    if (t.value("type", "") == "namespace")
      for (const auto& inner : t.value("tools", json::array()))
        if (inner.is_object() && inner.value("type", "") == type && inner.value("name", "") == name)
          return true;
  }
  return false;
}

std::optional<ev::error_info> check_tool_choice(const json& body) {
  if (!body.contains("tool_choice") || body["tool_choice"].is_null())
    return std::nullopt;
  const auto& tc = body["tool_choice"];
  const auto tools = body.value("tools", json::array()).is_array()
                         ? body.value("tools", json::array())
                         : json::array();
  if (tc.is_string()) {
    if (auto e = check_enum(tc, "tool_choice", {"auto", "none", "required"}, false))
      return e;
    if (tc == "required" && tools.empty())
      return bad_value("tool_choice", "'required' needs at least one tool in 'tools'.");
    return std::nullopt;
  }
  if (!tc.is_object())
    return wrong_type("tool_choice", "a string or an object", tc);
  if (!tc.contains("type"))
    return missing("tool_choice.type");
  if (!tc["type"].is_string())
    return wrong_type("tool_choice.type", "a string", tc["type"]);
  auto type = tc["type"].get<std::string>();
  if (type == "function" || type == "custom") {
    if (!tc.contains("name") || !tc["name"].is_string())
      return missing("tool_choice.name");
    auto name = tc["name"].get<std::string>();
    if (!has_tool(tools, type, name))
      return bad_value("tool_choice.name", "tool choice '" + name + "' is not one of the " + type +
                                               " tools in 'tools'.");
    return std::nullopt;
  }
  if (type == "allowed_tools") {
    if (auto e =
            check_enum(tc.value("mode", json()), "tool_choice.mode", {"auto", "required"}, false))
      return e;
    if (!tc.contains("tools") || !tc["tools"].is_array())
      return missing("tool_choice.tools");
    for (std::size_t i = 0; i < tc["tools"].size(); ++i) {
      auto param = "tool_choice.tools[" + std::to_string(i) + "]";
      const auto& t = tc["tools"][i];
      if (!t.is_object() || !t.contains("type") || !t["type"].is_string())
        return missing(param + ".type");
      auto ttype = t["type"].get<std::string>();
      if ((ttype == "function" || ttype == "custom") &&
          !has_tool(tools, ttype, t.value("name", json("")).is_string() ? t.value("name", "") : ""))
        return bad_value(param + ".name", "allowed tool '" +
                                              ev::excerpt(ev::dump_json(t.value("name", json()))) +
                                              "' is not one of the tools in 'tools'.");
    }
    return std::nullopt;
  }
  if (hosted_tools.count(type) == 0)
    return bad_value("tool_choice.type", "'" + type +
                                             "'. Supported values are: 'function', 'custom', "
                                             "'allowed_tools' and the hosted tool types.");
  return std::nullopt;
}

} // namespace

ev::result<json> parse_body(std::string_view raw) {
  ev::json_failure why = ev::json_failure::none;
  auto body = ev::parse_untrusted(raw, &why);
  if (why == ev::json_failure::too_deep)
    return ev::make_error(riposte_errc::invalid_json,
                          "The JSON body of your request nests deeper than " +
                              std::to_string(ev::max_json_depth()) +
                              " levels of arrays and objects (--max-json-depth).");
  if (body.is_discarded())
    return ev::make_error(riposte_errc::invalid_json,
                          "We could not parse the JSON body of your request. The body must be a "
                          "valid JSON object.");
  return body;
}

ev::result<actors::create_command> parse_create(std::string_view raw, const create_limits& limits,
                                                bool fingerprint_body) {
  auto parsed = parse_body(raw);
  if (!parsed)
    return parsed.error();
  return create_from_json(std::move(*parsed), limits, fingerprint_body);
}

ev::result<actors::create_command>
create_from_json(nlohmann::json body, const create_limits& limits, bool fingerprint_body) {
  if (!body.is_object())
    return ev::make_error(riposte_errc::invalid_json,
                          std::string{"The request body must be a JSON object, not "} +
                              type_name(body) + ".");
  for (const auto& [key, value] : body.items())
    if (known_fields().count(key) == 0)
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));

  if (!body.contains("model") || body["model"].is_null())
    return missing("model");
  if (!body["model"].is_string())
    return wrong_type("model", "a string", body["model"]);
  if (body["model"].get<std::string>().empty())
    return bad_value("model", "empty string. Expected a model name.");

  for (const char* name : {"instructions", "previous_response_id", "prompt_cache_key",
                           "safety_identifier", "user", "prompt_cache_retention"})
    if (auto e = check_string_or_null(body, name))
      return *e;
  for (const char* name : {"store", "stream", "background", "parallel_tool_calls"})
    if (auto e = check_bool(body, name))
      return *e;
  if (auto e = check_number(body, "temperature", 0, 2))
    return *e;
  if (auto e = check_number(body, "top_p", 0, 1))
    return *e;
  for (const char* name : {"presence_penalty", "frequency_penalty"})
    if (auto e = check_number(body, name, -2, 2))
      return *e;
  if (auto e = check_integer(body, "max_output_tokens", 16, 1'000'000))
    return *e;
  if (auto e = check_integer(body, "max_tool_calls", 1, 10'000))
    return *e;
  if (auto e = check_integer(body, "top_logprobs", 0, 20))
    return *e;
  if (auto e = check_metadata(body))
    return *e;
  if (auto e = check_tools(body, limits))
    return *e;
  if (auto e = check_text(body))
    return *e;
  if (auto e = check_tool_choice(body))
    return *e;
  if (body.contains("truncation"))
    if (auto e = check_enum(body["truncation"], "truncation", {"auto", "disabled"}, true))
      return *e;
  if (body.contains("service_tier"))
    if (auto e = check_enum(body["service_tier"], "service_tier",
                            {"auto", "default", "flex", "scale", "priority"}, true))
      return *e;
  if (body.contains("reasoning") && !body["reasoning"].is_null()) {
    const auto& r = body["reasoning"];
    if (!r.is_object())
      return wrong_type("reasoning", "an object", r);
    if (r.contains("effort"))
      if (auto e = check_enum(r["effort"], "reasoning.effort",
                              {"none", "minimal", "low", "medium", "high", "xhigh"}, true))
        return *e;
    if (r.contains("summary"))
      if (auto e =
              check_enum(r["summary"], "reasoning.summary", {"auto", "concise", "detailed"}, true))
        return *e;
  }
  if (body.contains("include") && !body["include"].is_null()) {
    if (!body["include"].is_array())
      return wrong_type("include", "an array", body["include"]);
    for (std::size_t i = 0; i < body["include"].size(); ++i)
      if (!body["include"][i].is_string())
        return wrong_type("include[" + std::to_string(i) + "]", "a string", body["include"][i]);
  }
  if (body.contains("client_metadata") && !body["client_metadata"].is_null() &&
      !body["client_metadata"].is_object())
    return wrong_type("client_metadata", "an object", body["client_metadata"]);
  if (body.contains("stream_options") && !body["stream_options"].is_null()) {
    const auto& so = body["stream_options"];
    if (!so.is_object())
      return wrong_type("stream_options", "an object", so);
    if (so.contains("include_obfuscation") && !so["include_obfuscation"].is_null() &&
        !so["include_obfuscation"].is_boolean())
      return wrong_type("stream_options.include_obfuscation", "a boolean",
                        so["include_obfuscation"]);
    if (!body.value("stream", false))
      return bad_value("stream_options", "stream_options is only allowed with stream: true.");
  }

  // Capabilities that land in later work are refused, never silently wrong.
  if (body.value("background", false) && !body.value("store", json(true)).is_null() &&
      body.value("store", true) == false)
    return ev::make_error(riposte_errc::invalid_value,
                          "Background mode requires store=true; a background response must be "
                          "stored to be retrieved.",
                          "background");
  if (auto e = check_prompt(body))
    return *e;
  if (auto e = check_context_management(body))
    return *e;
  // conversation: an id or {id}; it stands instead of previous_response_id.
  std::string conversation;
  if (body.contains("conversation") && !body["conversation"].is_null()) {
    const auto& conv = body["conversation"];
    if (conv.is_string())
      conversation = conv.get<std::string>();
    else if (conv.is_object() && conv.value("id", json()).is_string())
      conversation = conv["id"].get<std::string>();
    else if (conv.is_object())
      return conv.contains("id") ? wrong_type("conversation.id", "a string", conv["id"])
                                 : missing("conversation.id");
    else
      return wrong_type("conversation", "a string or an object", conv);
    if (conv.is_object())
      for (const auto& [key, value] : conv.items())
        if (key != "id")
          return ev::make_error(riposte_errc::unknown_parameter,
                                "Unknown parameter: 'conversation." + ev::excerpt(key) + "'.",
                                "conversation." + ev::excerpt(key));
    if (conversation.empty())
      return bad_value(conv.is_object() ? "conversation.id" : "conversation",
                       "empty string. Expected a conversation id.");
    if (!body.value("previous_response_id", json()).is_null())
      return ev::make_error(riposte_errc::mutually_exclusive,
                            "Mutually exclusive parameters: Ensure you are only providing one of: "
                            "'previous_response_id' or 'conversation'.");
  }
  for (const char* name : {"moderation", "access_programs"})
    if (body.contains(name) && !body[name].is_null())
      return ev::make_error(riposte_errc::unsupported_parameter,
                            std::string{"'"} + name + "' is not supported yet.", name);

  actors::create_command cmd;
  // The body as sent, before its members are moved out below.
  if (fingerprint_body)
    cmd.request_hash = fingerprint(ev::dump_json(body));
  cmd.accepted_at = std::chrono::steady_clock::now();
  cmd.accepted_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  cmd.model = body["model"].get<std::string>();
  json input;
  if (auto it = body.find("input"); it != body.end())
    input = std::move(*it);
  if (input.is_string()) {
    input = ev::array_of(
        ev::object_of({{"type", "message"}, {"role", "user"}, {"content", std::move(input)}}));
  } else if (input.is_null()) {
    input = json::array();
  } else if (!input.is_array()) {
    return wrong_type("input", "a string or an array", input);
  }
  if (input.size() > limits.max_input_items)
    return bad_value("input", "array too long. Expected at most " +
                                  std::to_string(limits.max_input_items) + " items.");
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (auto e = check_item(input[i], "input[" + std::to_string(i) + "]"))
      return *e;
    auto& item = input[i];
    if (!item.contains("id") || item["id"].is_null())
      item["id"] = ev::make_id(id_prefix(item["type"].get<std::string>()));
    if (item["type"] == "message" && !item.contains("status"))
      item["status"] = "completed";
  }
  if (input.empty() && body.value("previous_response_id", json()).is_null() &&
      body.value("prompt", json()).is_null() && conversation.empty())
    return missing("input");
  cmd.open_call_ids = actors::open_outputs(input);
  if (!cmd.open_call_ids.empty() && body.value("previous_response_id", json()).is_null() &&
      conversation.empty())
    return actors::no_tool_call(cmd.open_call_ids.front());
  cmd.conversation_id = conversation;
  cmd.input = std::move(input);
  cmd.previous_response_id = body.value("previous_response_id", json()).is_string()
                                 ? body["previous_response_id"].get<std::string>()
                                 : "";
  cmd.store = body.value("store", json(true)).is_boolean() ? body.value("store", true) : true;
  cmd.stream = body.value("stream", json(false)).is_boolean() && body.value("stream", false);
  if (auto so = body.find("stream_options"); so != body.end() && so->is_object())
    if (auto ob = so->find("include_obfuscation"); ob != so->end() && ob->is_boolean())
      cmd.obfuscation = ob->get<bool>();

  for (const auto& name : projections::sampling_fields())
    if (body.contains(name) && !body[name].is_null())
      cmd.sampling[name] = body[name];
  // What the Response object echoes back: the API's defaults copied whole
  // (one tree copy, no key searched for), then the client's few members
  // moved out of the body over them (each is read once).
  const auto& defaults = projections::response_defaults();
  json params = defaults;
  params["include"] = json::array(); // not rendered; decides what output carries
  for (auto& [name, value] : body.items())
    if (name != "reasoning" && name != "text" && !value.is_null())
      if (auto it = params.find(name); it != params.end())
        *it = std::move(value);
  if (body.contains("prompt") && !body["prompt"].is_null())
    params["prompt"] = std::move(body["prompt"]);
  if (body.contains("context_management") && !body["context_management"].is_null())
    params["context_management"] = std::move(body["context_management"]);
  if (!conversation.empty())
    params["conversation"] = {{"id", conversation}};
  // reasoning and text: the client's fields over the defaults'.
  auto& reasoning = params["reasoning"];
  if (body.contains("reasoning") && body["reasoning"].is_object())
    for (auto& [k, v] : body["reasoning"].items())
      reasoning[k] = std::move(v);
  auto& text = params["text"];
  if (body.contains("text") && body["text"].is_object())
    for (auto& [k, v] : body["text"].items())
      if (!v.is_null())
        text[k] = std::move(v);
  params["tools"] = echoed_tools(params["tools"]);
  cmd.params = std::move(params);
  return cmd;
}

ev::result<actors::prompt_draft> parse_prompt_draft(std::string_view raw) {
  auto parsed = parse_body(raw);
  if (!parsed)
    return parsed.error();
  auto& body = *parsed;
  if (!body.is_object())
    return ev::make_error(riposte_errc::invalid_json,
                          "We could not parse the JSON body of your request. The body must be a "
                          "JSON object.");
  for (const auto& [key, value] : body.items())
    if (key != "name" && key != "instructions" && key != "input" && key != "metadata")
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));
  actors::prompt_draft d;
  if (auto e = check_string_or_null(body, "name"))
    return *e;
  d.name = body.value("name", json()).is_string() ? body["name"].get<std::string>() : "";
  if (d.name.size() > 256)
    return bad_value("name", "string too long. Expected at most 256 characters.");
  if (auto e = check_string_or_null(body, "instructions"))
    return *e;
  d.instructions = body.value("instructions", json());
  json input = body.value("input", json::array());
  if (input.is_string())
    input = json::array({{{"type", "message"}, {"role", "user"}, {"content", input}}});
  if (input.is_null())
    input = json::array();
  if (!input.is_array())
    return wrong_type("input", "a string or an array of messages", input);
  if (input.size() > 1'000)
    return bad_value("input", "array too long. Expected at most 1000 messages.");
  for (std::size_t i = 0; i < input.size(); ++i) {
    auto param = "input[" + std::to_string(i) + "]";
    if (auto e = check_item(input[i], param))
      return *e;
    if (input[i]["type"] != "message")
      return bad_value(param + ".type", "a prompt holds messages only.");
  }
  if (input.empty() && !d.instructions.is_string())
    return missing("instructions");
  d.input = std::move(input);
  if (auto e = check_metadata(body))
    return *e;
  d.metadata = body.value("metadata", json()).is_object() ? body["metadata"] : json::object();
  return d;
}

ev::result<std::vector<std::pair<std::string, std::string>>>
parse_query_string(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> out;
  auto decode = [](std::string_view s, std::string& to) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        to.push_back(' ');
      } else if (s[i] == '%') {
        if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
          return false;
        to.push_back(static_cast<char>(std::stoi(std::string{s.substr(i + 1, 2)}, nullptr, 16)));
        i += 2;
      } else {
        to.push_back(s[i]);
      }
    }
    return true;
  };
  std::string_view rest{query};
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    std::string key, value;
    if (!decode(pair.substr(0, eq), key) ||
        (eq != std::string_view::npos && !decode(pair.substr(eq + 1), value)))
      return ev::make_error(riposte_errc::invalid_request, "The query string is malformed.");
    // Keys and values are echoed and stored: they must be text.
    if (!ev::is_text(key))
      return ev::make_error(riposte_errc::invalid_value,
                            "Invalid query parameter name: '" + ev::excerpt(key) +
                                "' is not valid UTF-8 text.",
                            "query");
    if (!ev::is_text(value))
      return ev::make_error(riposte_errc::invalid_value,
                            "Invalid value for '" + ev::excerpt(key) + "': '" + ev::excerpt(value) +
                                "' is not valid UTF-8 text.",
                            key);
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

namespace {

// A query parameter's value that is not what `key` takes.
ev::error_info invalid_query_value(const std::string& key, const std::string& expected,
                                   const std::string& got) {
  return ev::make_error(riposte_errc::invalid_value,
                        "Invalid value for '" + key + "': expected " + expected + ", but got '" +
                            ev::excerpt(got) + "'.",
                        key);
}

// Names and ids in a query: printable text of a sane length.
std::optional<ev::error_info> query_name(const std::string& key, const std::string& value,
                                         std::string& out) {
  if (value.empty() || value.size() > 256 || !ev::is_text(value))
    return invalid_query_value(key, "a name of 1 to 256 characters", value);
  out = value;
  return std::nullopt;
}

// Whole numbers from 0, as the API's times and counts are.
std::optional<ev::error_info> whole_number(const std::string& key, const std::string& value,
                                           std::optional<std::int64_t>& out) {
  if (value.empty() || value.size() > 15 ||
      value.find_first_not_of("0123456789") != std::string::npos)
    return invalid_query_value(key, "a whole number from 0", value);
  out = std::stoll(value);
  return std::nullopt;
}

std::optional<ev::error_info> one_of(const std::string& key, const std::string& value,
                                     std::initializer_list<const char*> allowed, std::string& out) {
  std::string listed;
  for (const char* a : allowed) {
    if (value == a) {
      out = value;
      return std::nullopt;
    }
    listed += (listed.empty() ? "'" : ", '") + std::string{a} + "'";
  }
  return invalid_query_value(key, "one of " + listed, value);
}

template <class Filter>
using numbers_of = std::map<std::string, std::optional<std::int64_t> Filter::*>;
template <class Filter>
using texts_of = std::map<std::string, std::string Filter::*>;
template <class Filter>
using bounds_of = std::vector<std::tuple<std::optional<std::int64_t> Filter::*,
                                         std::optional<std::int64_t> Filter::*, const char*>>;

// A listing of the index: the named numbers and texts, `limit`, `order` and
// `include_deleted`, whatever else `other` takes (it answers nullopt for a
// key it does not know), then each bound no lower than its partner.
template <class Filter, class Other>
ev::result<Filter> parse_listing(const std::string& query, const numbers_of<Filter>& numbers,
                                 const texts_of<Filter>& texts, const bounds_of<Filter>& bounds,
                                 Other other) {
  auto pairs = parse_query_string(query);
  if (!pairs)
    return pairs.error();
  Filter f;
  for (const auto& [key, value] : *pairs) {
    std::optional<ev::error_info> bad;
    if (auto n = numbers.find(key); n != numbers.end()) {
      bad = whole_number(key, value, f.*(n->second));
    } else if (auto t = texts.find(key); t != texts.end()) {
      bad = query_name(key, value, f.*(t->second));
    } else if (key == "include_deleted") {
      std::string v;
      bad = one_of(key, value, {"true", "false"}, v);
      f.include_deleted = v == "true";
    } else if (key == "order") {
      std::string v;
      bad = one_of(key, value, {"asc", "desc"}, v);
      f.ascending = v == "asc";
    } else if (key == "limit") {
      std::optional<std::int64_t> limit;
      bad = whole_number(key, value, limit);
      if (!bad && (*limit < 1 || *limit > 100))
        bad = invalid_query_value(key, "an integer between 1 and 100", value);
      if (!bad)
        f.limit = static_cast<std::size_t>(*limit);
    } else if (auto known = other(key, value, f)) {
      bad = *known;
    } else {
      bad = ev::make_error(riposte_errc::unknown_parameter,
                           "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));
    }
    if (bad)
      return *bad;
  }
  for (auto [lo, hi, name] : bounds)
    if (f.*lo && f.*hi && *(f.*hi) < *(f.*lo))
      return ev::make_error(
          riposte_errc::invalid_value,
          std::string{"Invalid value for '"} + name + "': it is below its lower bound.", name);
  return f;
}

} // namespace

ev::result<projections::index_filter> parse_index_filter(const std::string& query) {
  using F = projections::index_filter;
  const numbers_of<F> numbers{{"created_after", &F::created_after},
                              {"created_before", &F::created_before},
                              {"min_tokens", &F::min_tokens},
                              {"max_tokens", &F::max_tokens},
                              {"min_duration_ms", &F::min_duration_ms},
                              {"max_duration_ms", &F::max_duration_ms},
                              {"min_first_token_ms", &F::min_first_token_ms},
                              {"max_first_token_ms", &F::max_first_token_ms}};
  const texts_of<F> texts{{"tenant", &F::tenant},
                          {"model", &F::model},
                          {"error_code", &F::error_code},
                          {"conversation", &F::conversation},
                          {"previous_response_id", &F::previous_response_id},
                          {"after", &F::after}};
  const bounds_of<F> bounds{{&F::created_after, &F::created_before, "created_before"},
                            {&F::min_tokens, &F::max_tokens, "max_tokens"},
                            {&F::min_duration_ms, &F::max_duration_ms, "max_duration_ms"},
                            {&F::min_first_token_ms, &F::max_first_token_ms, "max_first_token_ms"}};
  return parse_listing<F>(
      query, numbers, texts, bounds,
      [](const std::string& key, const std::string& value,
         F& f) -> std::optional<std::optional<ev::error_info>> {
        if (key == "status")
          return one_of(key, value,
                        {"queued", "in_progress", "completed", "incomplete", "failed", "cancelled"},
                        f.status);
        if (key == "mode")
          return one_of(key, value, {"blocking", "stream", "background"}, f.mode);
        return std::nullopt;
      });
}

ev::result<projections::conversation_filter> parse_conversation_filter(const std::string& query) {
  using F = projections::conversation_filter;
  const numbers_of<F> numbers{
      {"created_after", &F::created_after}, {"created_before", &F::created_before},
      {"active_after", &F::active_after},   {"active_before", &F::active_before},
      {"min_items", &F::min_items},         {"max_items", &F::max_items},
      {"min_responses", &F::min_responses}, {"max_responses", &F::max_responses}};
  const texts_of<F> texts{{"tenant", &F::tenant}, {"after", &F::after}};
  const bounds_of<F> bounds{{&F::created_after, &F::created_before, "created_before"},
                            {&F::active_after, &F::active_before, "active_before"},
                            {&F::min_items, &F::max_items, "max_items"},
                            {&F::min_responses, &F::max_responses, "max_responses"}};
  return parse_listing<F>(
      query, numbers, texts, bounds,
      [](const std::string&, const std::string&,
         F&) -> std::optional<std::optional<ev::error_info>> { return std::nullopt; });
}

ev::result<actors::list_query> parse_list_query(const std::string& query) {
  auto pairs = parse_query_string(query);
  if (!pairs)
    return pairs.error();
  actors::list_query q;
  for (const auto& [key, value] : *pairs) {
    if (key == "limit") {
      std::int64_t limit = 0;
      bool digits = !value.empty() && value.size() < 10 &&
                    value.find_first_not_of("0123456789") == std::string::npos;
      if (digits)
        limit = std::stoll(value);
      if (!digits || limit < 1 || limit > 100)
        return ev::make_error(riposte_errc::invalid_value,
                              "Invalid value for 'limit': expected an integer between 1 and 100, "
                              "but got '" +
                                  ev::excerpt(value) + "'.",
                              "limit");
      q.limit = limit;
    } else if (key == "order") {
      if (value != "asc" && value != "desc")
        return ev::make_error(riposte_errc::invalid_value,
                              "Invalid value for 'order': expected 'asc' or 'desc', but got '" +
                                  ev::excerpt(value) + "'.",
                              "order");
      q.ascending = value == "asc";
    } else if (key == "after") {
      q.after = value;
    } else if (key == "before") {
      q.before = value;
    } else if (key == "include" || key == "include[]") {
      // Accepted; input items carry everything already.
    } else {
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));
    }
  }
  return q;
}

namespace {

// A conversation's items as they will be added (see parse_conversation_*).
std::optional<ev::error_info> check_conversation_items(json& items) {
  if (items.is_null())
    items = json::array();
  if (!items.is_array())
    return wrong_type("items", "an array", items);
  if (items.size() > 20)
    return ev::make_error(riposte_errc::array_too_long,
                          "Invalid 'items': array too long. Expected an array with maximum length "
                          "20, but got an array with length " +
                              std::to_string(items.size()) + " instead.",
                          "items");
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto param = "items[" + std::to_string(i) + "]";
    auto& item = items[i];
    if (auto e = check_item(item, param))
      return e;
    auto type = item["type"].get<std::string>();
    bool has_id = item.contains("id") && item["id"].is_string();
    if (has_id && (type == "message" || type == "function_call")) {
      auto prefix = type == "message" ? std::string{"msg"} : std::string{"fc"};
      const auto& id = item["id"].get_ref<const std::string&>();
      if (id.rfind(prefix, 0) != 0)
        return ev::make_error(riposte_errc::invalid_value,
                              "Invalid '" + param + ".id': '" + ev::excerpt(id) +
                                  "'. Expected an ID that begins with '" + prefix + "'.",
                              param + ".id");
    }
    if (type == "reasoning" && !has_id && !item.value("encrypted_content", json()).is_string())
      return bad_value(param, "a reasoning item needs its 'id' or its 'encrypted_content'.");
    if (!has_id)
      item["id"] = ev::make_id(id_prefix(type));
    if ((type == "message" || type == "function_call" || type == "function_call_output") &&
        !item.contains("status"))
      item["status"] = "completed";
  }
  return std::nullopt;
}

std::optional<ev::error_info> only_fields(const json& body, std::initializer_list<const char*> ok) {
  if (!body.is_object())
    return ev::make_error(riposte_errc::invalid_json,
                          std::string{"The request body must be a JSON object, not "} +
                              type_name(body) + ".");
  for (auto it = body.begin(); it != body.end(); ++it) {
    const auto& key = it.key();
    if (std::none_of(ok.begin(), ok.end(), [&](const char* k) { return key == k; }))
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));
  }
  return std::nullopt;
}

} // namespace

ev::result<actors::conversation_op> parse_conversation_create(std::string_view raw) {
  auto body = raw.empty() ? ev::result<json>(json::object()) : parse_body(raw);
  if (!body)
    return body.error();
  if (auto e = only_fields(*body, {"items", "metadata"}))
    return *e;
  if (auto e = check_metadata(*body))
    return *e;
  actors::conversation_op op;
  op.what = actors::conversation_op::kind::create;
  op.items = body->value("items", json());
  if (auto e = check_conversation_items(op.items))
    return *e;
  if (body->contains("metadata") && (*body)["metadata"].is_object())
    op.metadata = (*body)["metadata"];
  return op;
}

ev::result<actors::conversation_op> parse_conversation_update(std::string_view raw) {
  auto body = parse_body(raw);
  if (!body)
    return body.error();
  if (auto e = only_fields(*body, {"metadata"}))
    return *e;
  if (!body->contains("metadata"))
    return missing("metadata");
  if (auto e = check_metadata(*body))
    return *e;
  actors::conversation_op op;
  op.what = actors::conversation_op::kind::update;
  op.metadata = (*body)["metadata"].is_object() ? (*body)["metadata"] : json::object();
  return op;
}

ev::result<actors::conversation_op> parse_conversation_items(std::string_view raw) {
  auto body = parse_body(raw);
  if (!body)
    return body.error();
  if (auto e = only_fields(*body, {"items"}))
    return *e;
  if (!body->contains("items") || (*body)["items"].is_null())
    return missing("items");
  actors::conversation_op op;
  op.what = actors::conversation_op::kind::add_items;
  op.items = std::move((*body)["items"]);
  if (auto e = check_conversation_items(op.items))
    return *e;
  return op;
}

ev::result<actors::list_query> parse_conversation_items_query(const std::string& query) {
  auto q = parse_list_query(query);
  if (!q)
    return q.error();
  if (!q->before.empty())
    return ev::make_error(riposte_errc::unknown_parameter, "Unknown parameter: 'before'.",
                          "before");
  return q;
}

ev::status check_include_query(const std::string& query) {
  auto pairs = parse_query_string(query);
  if (!pairs)
    return pairs.error();
  for (const auto& [key, value] : *pairs)
    if (key != "include" && key != "include[]")
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));
  return ev::ok();
}

std::string fingerprint(const std::string& bytes) {
  std::uint64_t h = 14695981039346656037ull; // FNV-1a 64 offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ev::result<audit_query> parse_audit_query(const std::string& query,
                                          const std::optional<std::string>& last_event_id) {
  auto pairs = parse_query_string(query);
  if (!pairs)
    return pairs.error();
  audit_query q;
  auto digits = [](const std::string& v) {
    return !v.empty() && v.size() < 19 && v.find_first_not_of("0123456789") == std::string::npos;
  };
  // A reconnecting EventSource-style client names where it was.
  if (last_event_id && digits(*last_event_id))
    q.after = std::stoull(*last_event_id);
  for (const auto& [key, value] : *pairs) {
    if (key == "after" && digits(value))
      q.after = std::stoull(value);
    else if (key == "limit" && digits(value) && std::stoll(value) >= 1 && std::stoll(value) <= 1000)
      q.limit = std::stoll(value);
    else if (key == "stream" && (value == "true" || value == "false"))
      q.stream = value == "true";
    else if (key == "tenant" || key == "type" || key == "stream_id") {
      auto& out = key == "tenant" ? q.tenant : key == "type" ? q.type : q.stream_id;
      if (auto bad = query_name(key, value, out))
        return *bad;
    } else if (key == "after")
      return invalid_query_value(key, "a global position", value);
    else if (key == "limit")
      return invalid_query_value(key, "an integer between 1 and 1000", value);
    else if (key == "stream")
      return invalid_query_value(key, "'true' or 'false'", value);
    else
      return ev::make_error(riposte_errc::unknown_parameter,
                            "Unknown parameter: '" + ev::excerpt(key) + "'.", ev::excerpt(key));
  }
  return q;
}

} // namespace riposte::http
