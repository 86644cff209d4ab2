// JSON Schema compile and check (valijson), and the structured-output
// verdict on a finished answer.
#define BOOST_TEST_MODULE adapter_libraries
#include "adapters/schema/json_schema.hpp"

#include <boost/test/unit_test.hpp>

using riposte::adapters::schema::check_structured_output;
using riposte::adapters::schema::json_schema;
using json = nlohmann::json;

namespace {

const json person = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer", "minimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}}
  },
  "required": ["name", "age"],
  "additionalProperties": false
})");

} // namespace

BOOST_AUTO_TEST_CASE(conforming_documents_have_no_violations) {
  auto schema = json_schema::compile(person);
  BOOST_REQUIRE(schema.has_value());
  BOOST_TEST(schema->violations(json{{"name", "Ada"}, {"age", 36}}).empty());
  BOOST_TEST(schema->violations(json{{"name", "Ada"}, {"age", 36}, {"tags", {"math", "engines"}}})
                 .empty());
}

BOOST_AUTO_TEST_CASE(violations_say_where_and_why) {
  auto schema = json_schema::compile(person);
  BOOST_REQUIRE(schema.has_value());
  auto missing = schema->violations(json{{"name", "Ada"}});
  BOOST_REQUIRE(!missing.empty());
  auto wrong = schema->violations(json{{"name", "Ada"}, {"age", -1}, {"tags", {1}}});
  BOOST_REQUIRE(!wrong.empty());
  std::string all;
  for (const auto& v : wrong)
    all += v + "\n";
  BOOST_TEST(all.find("age") != std::string::npos, all);
  BOOST_TEST(schema->violations(json{{"name", "Ada"}, {"age", 1}, {"extra", true}}).size() >= 1u);
  BOOST_TEST(schema->violations(json::array()).size() >= 1u);
}

BOOST_AUTO_TEST_CASE(invalid_schemas_are_error_values) {
  BOOST_TEST(!json_schema::compile(json{{"type", 5}}).has_value());
  BOOST_TEST(!json_schema::compile(json{{"properties", "no"}}).has_value());
  BOOST_TEST(!json_schema::compile(json{{"required", {1, 2}}}).has_value());
  BOOST_TEST(!json_schema::compile(json("a string")).has_value());
  BOOST_TEST(json_schema::compile(json::object()).has_value());
}

BOOST_AUTO_TEST_CASE(structured_output_verdicts_follow_text_format) {
  auto schema = json_schema::compile(person);
  BOOST_REQUIRE(schema.has_value());
  json js{{"type", "json_schema"}, {"name", "person"}, {"schema", person}};
  BOOST_TEST(check_structured_output(js, &*schema, R"({"name":"Ada","age":36})").empty());
  auto why = check_structured_output(js, &*schema, R"({"name":"Ada"})");
  BOOST_TEST(why.find("person") != std::string::npos, why);
  BOOST_TEST(check_structured_output(js, &*schema, "Sure! Here it is: {").find("not valid JSON") !=
             std::string::npos);
  json obj{{"type", "json_object"}};
  BOOST_TEST(check_structured_output(obj, nullptr, R"({"a":1})").empty());
  BOOST_TEST(!check_structured_output(obj, nullptr, "[1,2]").empty());
  BOOST_TEST(check_structured_output(json{{"type", "text"}}, nullptr, "anything").empty());
}
