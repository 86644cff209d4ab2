// http/: request validation into commands, query strings, and route patterns.
#define BOOST_TEST_MODULE http
#include "http/errors.hpp"
#include "http/validate.hpp"

#include <boost/test/unit_test.hpp>

namespace ev = riposte::events;
using namespace riposte::http;
using json = nlohmann::json;

namespace {

ev::error_info rejected(const json& body) {
  auto r = parse_create(body.dump(), {});
  BOOST_REQUIRE_MESSAGE(!r.has_value(), "accepted: " << body.dump());
  return r.error();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_string_input_becomes_one_user_message_with_an_id) {
  auto cmd = parse_create(R"({"model":"m","input":"hi"})", {});
  BOOST_REQUIRE(cmd.has_value());
  BOOST_REQUIRE(cmd->input.size() == 1u);
  const auto& item = cmd->input[0];
  BOOST_TEST(item["type"] == "message");
  BOOST_TEST(item["role"] == "user");
  BOOST_TEST(item["content"] == json::array({{{"type", "input_text"}, {"text", "hi"}}}));
  BOOST_TEST(item["id"].get<std::string>().rfind("msg_", 0) == 0u);
  BOOST_TEST(cmd->store);
  BOOST_TEST(cmd->params["temperature"] == 1.0);
  BOOST_TEST(cmd->sampling.empty());
}

BOOST_AUTO_TEST_CASE(client_item_ids_and_explicit_sampling_are_kept) {
  auto cmd = parse_create(
      R"({"model":"m","temperature":0.1,"store":false,"input":[{"id":"msg_mine","role":"assistant","content":"x"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"o"}]})",
      {});
  BOOST_REQUIRE(cmd.has_value());
  BOOST_TEST(cmd->input[0]["id"] == "msg_mine");
  BOOST_TEST(cmd->input[0]["content"][0]["type"] == "output_text");
  BOOST_TEST(cmd->input[1]["id"].get<std::string>().rfind("fc_", 0) == 0u);
  BOOST_TEST(cmd->input[2]["id"].get<std::string>().rfind("fco_", 0) == 0u);
  BOOST_TEST(cmd->sampling == (json{{"temperature", 0.1}}));
  BOOST_TEST(!cmd->store);
}

BOOST_AUTO_TEST_CASE(every_rejection_names_its_param_and_code) {
  struct c {
    json body;
    ev::riposte_errc code;
    std::string param;
  };
  using E = ev::riposte_errc;
  std::vector<c> cases{
      {json::array(), E::invalid_json, ""},
      {{{"input", "x"}}, E::missing_parameter, "model"},
      {{{"model", ""}, {"input", "x"}}, E::invalid_value, "model"},
      {{{"model", "m"}, {"input", "x"}, {"top_p", 2}}, E::invalid_value, "top_p"},
      {{{"model", "m"}, {"input", "x"}, {"top_p", "1"}}, E::invalid_type, "top_p"},
      {{{"model", "m"}, {"input", "x"}, {"store", "yes"}}, E::invalid_type, "store"},
      {{{"model", "m"}, {"input", "x"}, {"max_output_tokens", 1.5}},
       E::invalid_type,
       "max_output_tokens"},
      {{{"model", "m"}, {"input", "x"}, {"top_logprobs", 21}}, E::invalid_value, "top_logprobs"},
      {{{"model", "m"}, {"input", "x"}, {"truncation", "sometimes"}},
       E::invalid_value,
       "truncation"},
      {{{"model", "m"}, {"input", "x"}, {"reasoning", {{"effort", "max"}}}},
       E::invalid_value,
       "reasoning.effort"},
      {{{"model", "m"}, {"input", "x"}, {"text", {{"format", {{"type", "yaml"}}}}}},
       E::invalid_value,
       "text.format.type"},
      {{{"model", "m"}, {"input", "x"}, {"text", {{"format", {{"type", "json_schema"}}}}}},
       E::missing_parameter,
       "text.format.name"},
      {{{"model", "m"}, {"input", "x"}, {"tool_choice", "sometimes"}},
       E::invalid_value,
       "tool_choice"},
      {{{"model", "m"}, {"input", "x"}, {"tools", {{{"name", "f"}}}}},
       E::missing_parameter,
       "tools[0].type"},
      {{{"model", "m"}, {"input", "x"}, {"tools", {{{"type", "function"}}}}},
       E::missing_parameter,
       "tools[0].name"},
      {{{"model", "m"}, {"input", {{{"type", "function_call"}, {"name", "f"}}}}},
       E::missing_parameter,
       "input[0].call_id"},
      {{{"model", "m"}, {"input", {{{"type", "function_call_output"}, {"call_id", "c"}}}}},
       E::missing_parameter,
       "input[0].output"},
      {{{"model", "m"}, {"input", {{{"role", "user"}, {"content", {{{"type", "input_text"}}}}}}}},
       E::missing_parameter,
       "input[0].content[0].text"},
      {{{"model", "m"}, {"input", {{{"role", "user"}, {"content", {{{"type", "video"}}}}}}}},
       E::invalid_value,
       "input[0].content[0].type"},
      {{{"model", "m"}, {"input", {{{"type", "item_reference"}}}}},
       E::missing_parameter,
       "input[0].id"},
      {{{"model", "m"}, {"input", {{{"type", "item_reference"}, {"id", 7}}}}},
       E::invalid_type,
       "input[0].id"},
      {{{"model", "m"}, {"input", {{{"type", "item_reference"}, {"id", "x"}, {"role", "user"}}}}},
       E::unknown_parameter,
       "input[0].role"},
      {{{"model", "m"}, {"input", "x"}, {"background", true}, {"store", false}},
       E::invalid_value,
       "background"},
      {{{"model", "m"}, {"input", "x"}, {"moderation", {{"model", "x"}}}},
       E::unsupported_parameter,
       "moderation"},
      {{{"model", "m"}, {"input", "x"}, {"prompt", "p"}}, E::invalid_type, "prompt"},
      {{{"model", "m"}, {"prompt", {{"version", "1"}}}}, E::missing_parameter, "prompt.id"},
      {{{"model", "m"}, {"prompt", {{"id", "pmpt_1"}, {"version", 2}}}},
       E::invalid_type,
       "prompt.version"},
      {{{"model", "m"}, {"prompt", {{"id", "pmpt_1"}, {"variables", {{"city", 3}}}}}},
       E::invalid_type,
       "prompt.variables.city"},
      {{{"model", "m"},
        {"prompt", {{"id", "pmpt_1"}, {"variables", {{"pic", {{"type", "input_audio"}}}}}}}},
       E::invalid_value,
       "prompt.variables.pic.type"},
      {{{"model", "m"}, {"prompt", {{"id", "pmpt_1"}, {"labels", "x"}}}},
       E::unknown_parameter,
       "prompt.labels"},
      {{{"model", "m"}, {"input", "x"}, {"metadata", json::object({{std::string(65, 'k'), "v"}})}},
       E::invalid_value,
       "metadata"},
  };
  for (const auto& cs : cases) {
    auto err = rejected(cs.body);
    BOOST_TEST((err.code == cs.code), cs.body.dump() << " -> " << ev::to_string(err.code));
    BOOST_TEST(err.param == cs.param, cs.body.dump());
    auto http = to_http(err);
    BOOST_TEST(http.status == 400);
    auto j = json::parse(http.body);
    BOOST_TEST(j["error"]["message"] == err.message);
  }
  auto not_json = parse_create("{\"model\":", {});
  BOOST_TEST((not_json.error().code == ev::riposte_errc::invalid_json));
}

BOOST_AUTO_TEST_CASE(too_many_input_items_or_tools_are_refused) {
  json input = json::array();
  for (int i = 0; i < 11; ++i)
    input.push_back("x");
  create_limits limits;
  limits.max_input_items = 10;
  auto r = parse_create(json{{"model", "m"}, {"input", input}}.dump(), limits);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().param == "input");
}

BOOST_AUTO_TEST_CASE(list_queries_parse_and_refuse_absurd_limits) {
  auto q = parse_list_query("limit=5&order=asc&after=msg%5F1");
  BOOST_REQUIRE(q.has_value());
  BOOST_TEST(q->limit == 5);
  BOOST_TEST(q->ascending);
  BOOST_TEST(q->after == "msg_1");
  for (const char* bad : {"limit=0", "limit=101", "limit=-1", "limit=abc", "limit=99999999999",
                          "order=up", "colour=red", "after=%zz"})
    BOOST_TEST(!parse_list_query(bad).has_value(), bad);
  BOOST_TEST(parse_list_query("").has_value());
}

BOOST_AUTO_TEST_CASE(routes_match_segments_and_decode_params) {
  std::vector<std::string> params;
  BOOST_TEST(match_pattern("/v1/models/{id}", "/v1/models/llama3.2%3A1b", params));
  BOOST_TEST(params.at(0) == "llama3.2:1b");
  params.clear();
  BOOST_TEST(
      match_pattern("/v1/responses/{id}/input_items", "/v1/responses/resp_1/input_items", params));
  BOOST_TEST(!match_pattern("/v1/responses/{id}", "/v1/responses/", params));
  BOOST_TEST(!match_pattern("/v1/responses/{id}", "/v1/responses/a/b", params));
  BOOST_TEST(!match_pattern("/v1/responses", "/v1/responsesx", params));
}

BOOST_AUTO_TEST_CASE(fingerprints_are_stable) {
  BOOST_TEST(fingerprint("") == "cbf29ce484222325");
  BOOST_TEST(fingerprint("a") != fingerprint("b"));
}

BOOST_AUTO_TEST_CASE(tool_outputs_without_their_call_are_left_to_the_chain_or_refused) {
  auto chained = parse_create(
      R"({"model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c9","output":"o"},{"type":"custom_tool_call","call_id":"c8","name":"p","input":"x"},{"type":"custom_tool_call_output","call_id":"c8","output":"ok"}]})",
      {});
  BOOST_REQUIRE(chained.has_value());
  BOOST_REQUIRE_EQUAL(chained->open_call_ids.size(), 1u);
  BOOST_TEST(chained->open_call_ids[0].first == "c9");
  BOOST_TEST(chained->open_call_ids[0].second == "input[0].call_id");
  auto alone = parse_create(
      R"({"model":"m","input":[{"type":"custom_tool_call_output","call_id":"c7","output":"o"}]})",
      {});
  BOOST_REQUIRE(!alone.has_value());
  BOOST_TEST(alone.error().param == "input[0].call_id");
}
