#include "tests/support/response_fields.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace riposte::tests {

namespace {

using json = nlohmann::json;

const json& fixture() {
  static const json loaded = [] {
    std::ifstream in{RIPOSTE_TESTS_DIR "/support/response_fields.json"};
    if (!in)
      throw std::runtime_error("cannot read tests/support/response_fields.json");
    return json::parse(in);
  }();
  return loaded;
}

std::string type_of(const json& v) {
  if (v.is_null())
    return "null";
  if (v.is_boolean())
    return "boolean";
  if (v.is_number())
    return "number";
  if (v.is_string())
    return "string";
  if (v.is_array())
    return "array";
  return "object";
}

void check(const json& fields, const json& obj, const std::string& where,
           std::vector<std::string>& problems) {
  for (const auto& [name, types] : fields.items()) {
    if (!obj.contains(name)) {
      problems.push_back(where + name + ": missing");
      continue;
    }
    auto type = type_of(obj[name]);
    if (std::find(types.begin(), types.end(), type) == types.end())
      problems.push_back(where + name + ": " + type + ", expected one of " + types.dump());
  }
}

} // namespace

std::vector<std::string> check_response_fields(const json& response) {
  std::vector<std::string> problems;
  if (!response.is_object())
    return {"not an object"};
  check(fixture()["response"], response, "", problems);
  const auto& tools = response.value("tools", json::array());
  for (std::size_t i = 0; i < tools.size(); ++i)
    if (tools[i].is_object() && tools[i].value("type", "") == "function")
      check(fixture()["function_tool"], tools[i], "tools[" + std::to_string(i) + "].", problems);
  return problems;
}

} // namespace riposte::tests
