// The only translation unit that sees valijson.
#define VALIJSON_USE_EXCEPTIONS 1
#include "adapters/schema/json_schema.hpp"

#include "events/json_safe.hpp"

#include <algorithm>
#include <stdexcept>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace riposte::adapters::schema {

using json = nlohmann::json;

events::result<json_schema> json_schema::compile(const json& schema) {
  if (!schema.is_object() && !schema.is_boolean())
    return events::make_error(events::riposte_errc::invalid_value,
                              "a JSON Schema must be an object or a boolean");
  auto compiled = std::make_shared<valijson::Schema>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, *compiled);
  } catch (const std::exception& ex) {
    return events::make_error(events::riposte_errc::invalid_value, ex.what());
  }
  json_schema out;
  out.schema_ = std::move(compiled);
  return out;
}

std::vector<std::string> json_schema::violations(const json& doc, std::size_t max) const {
  std::vector<std::string> out;
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(*schema_, target, &results))
    return out;
  valijson::ValidationResults::Error error;
  while (out.size() < max && results.popError(error)) {
    // The wrappers ("Failed to validate against schema associated with
    // property...") repeat what the leaf errors say.
    if (error.description.rfind("Failed to validate", 0) == 0)
      continue;
    std::string path; // "[a][0]" -> "/a/0", a JSON pointer
    for (const auto& step : error.context)
      if (step != "<root>")
        path += "/" + (step.size() >= 2 && step.front() == '[' && step.back() == ']'
                           ? step.substr(1, step.size() - 2)
                           : step);
    out.push_back("at " + (path.empty() ? std::string{"/"} : path) + ": " + error.description);
  }
  if (out.empty()) // only wrappers: say that much
    out.push_back("the document does not match the schema");
  return out;
}

std::string check_structured_output(const json& format, const json_schema* schema,
                                    const std::string& text) {
  auto type = format.is_object() ? format.value("type", "text") : std::string{"text"};
  if (type != "json_schema" && type != "json_object")
    return {};
  auto doc = events::parse_untrusted(text);
  if (doc.is_discarded())
    return "the model's output is not valid JSON";
  if (type == "json_object")
    return doc.is_object() ? std::string{} : "the model's output is JSON but not an object";
  if (schema == nullptr)
    return {};
  auto found = schema->violations(doc);
  if (found.empty())
    return {};
  std::string why = "the model's output does not match the schema '" +
                    format.value("name", std::string{"response"}) + "': ";
  for (std::size_t i = 0; i < found.size(); ++i)
    why += (i ? "; " : "") + found[i];
  return why;
}

namespace {

bool strict_node(const nlohmann::json& s, int depth) {
  if (depth > 64)
    return false;
  if (s.is_boolean())
    return false;
  if (!s.is_object())
    return false;
  auto each = [&](const char* key) {
    auto it = s.find(key);
    if (it == s.end())
      return true;
    if (it->is_array()) {
      for (const auto& sub : *it)
        if (!strict_node(sub, depth + 1))
          return false;
      return true;
    }
    return strict_node(*it, depth + 1);
  };
  auto each_value = [&](const char* key) {
    auto it = s.find(key);
    if (it == s.end())
      return true;
    if (!it->is_object())
      return false;
    for (const auto& [name, sub] : it->items())
      if (!strict_node(sub, depth + 1))
        return false;
    return true;
  };
  auto type = s.value("type", nlohmann::json());
  bool is_object =
      type == "object" ||
      (type.is_array() && std::find(type.begin(), type.end(), "object") != type.end()) ||
      s.contains("properties");
  if (is_object) {
    if (s.value("additionalProperties", nlohmann::json(true)) != false)
      return false;
    static const nlohmann::json no_props = nlohmann::json::object();
    static const nlohmann::json none_required = nlohmann::json::array();
    auto p = s.find("properties");
    auto r = s.find("required");
    const auto& props = p != s.end() ? *p : no_props;
    const auto& required = r != s.end() ? *r : none_required;
    if (!props.is_object() || !required.is_array())
      return false;
    for (const auto& [name, sub] : props.items())
      if (std::find(required.begin(), required.end(), name) == required.end())
        return false;
  }
  return each_value("properties") && each("items") && each("anyOf") && each("allOf") &&
         each_value("$defs") && each_value("definitions");
}

} // namespace

bool strict_compatible(const nlohmann::json& schema) {
  return schema.is_null() || strict_node(schema, 0);
}

} // namespace riposte::adapters::schema
