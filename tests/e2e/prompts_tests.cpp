// Prompt templates end to end: a versioned store under /v1/prompts, and
// `prompt: {id, version, variables}` on a create.
#include "tests/support/servers.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

const std::string alice = "Authorization: Bearer k-alice";
const std::string bob = "Authorization: Bearer k-bob";

json ok(const http_result& r) {
  BOOST_REQUIRE_MESSAGE(r.status == 200, "status " << r.status << ": " << r.body);
  return json::parse(r.body);
}

void refused(const http_result& r, long status, const std::string& code, const std::string& param) {
  BOOST_TEST(r.status == status, r.body);
  auto e = json::parse(r.body, nullptr, false);
  BOOST_REQUIRE(e.contains("error"));
  BOOST_TEST(e["error"]["code"] == code, r.body);
  BOOST_TEST(e["error"]["param"] == param, r.body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(prompts)

BOOST_AUTO_TEST_CASE(prompts_are_versioned_tenant_scoped_and_deleted_by_an_event) {
  scripted_backend b;
  riposte_server r{b.url(), {"--api-key", "k-alice:alice", "--api-key", "k-bob:bob"}};
  auto v1 = ok(r.post("/v1/prompts",
                      {{"name", "weather"},
                       {"instructions", "You answer about the weather in {{city}}."},
                       {"input", "What about {{day}}?"},
                       {"metadata", {{"team", "ops"}}}},
                      {alice}));
  auto id = v1["id"].get<std::string>();
  BOOST_TEST(id.rfind("pmpt_", 0) == 0u);
  BOOST_TEST(v1["object"] == "prompt");
  BOOST_TEST(v1["version"] == "1");
  BOOST_TEST(v1["variables"] == json::array({"city", "day"}));
  BOOST_TEST(v1["input"][0]["content"][0]["text"] == "What about {{day}}?");
  auto v2 = ok(r.post("/v1/prompts/" + id + "/versions",
                      {{"instructions", "Weather in {{city}}, briefly."}}, {alice}));
  BOOST_TEST(v2["version"] == "2");
  BOOST_TEST(v2["id"] == id);

  BOOST_TEST(ok(r.get("/v1/prompts/" + id, {alice}))["version"] == "2");
  BOOST_TEST(ok(r.get("/v1/prompts/" + id + "?version=1", {alice}))["instructions"] ==
             v1["instructions"]);
  refused(r.get("/v1/prompts/" + id + "?version=9", {alice}), 404, "not_found", "version");
  auto versions = ok(r.get("/v1/prompts/" + id + "/versions", {alice}));
  BOOST_TEST(versions["object"] == "list");
  BOOST_REQUIRE(versions["data"].size() == 2u);
  BOOST_TEST(versions["data"][0]["version"] == "2"); // newest first

  // Another tenant sees nothing, and cannot add a version.
  refused(r.get("/v1/prompts/" + id, {bob}), 404, "not_found", "prompt_id");
  refused(r.post("/v1/prompts/" + id + "/versions", {{"instructions", "mine"}}, {bob}), 404,
          "not_found", "prompt_id");

  // Bad drafts name their param.
  refused(r.post("/v1/prompts", {{"name", "empty"}}, {alice}), 400, "missing_required_parameter",
          "instructions");
  refused(r.post("/v1/prompts",
                 {{"input",
                   json::array(
                       {{{"type", "function_call_output"}, {"call_id", "c"}, {"output", "x"}}})}},
                 {alice}),
          400, "invalid_value", "input[0].type");
  refused(r.post("/v1/prompts", {{"instructions", "x"}, {"model", "m"}}, {alice}), 400,
          "unknown_parameter", "model");

  // Deleted: gone for reads, versions and use; it survives a restart as gone.
  BOOST_TEST(ok(r.del("/v1/prompts/" + id, {alice}))["deleted"] == true);
  r.restart();
  refused(r.get("/v1/prompts/" + id, {alice}), 404, "not_found", "prompt_id");
  refused(r.del("/v1/prompts/" + id, {alice}), 404, "not_found", "prompt_id");
  refused(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"prompt", {{"id", id}}}}, {alice}),
          404, "not_found", "prompt.id");
}

BOOST_AUTO_TEST_CASE(a_prompt_becomes_instructions_and_first_messages_with_its_variables) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto p = ok(r.post("/v1/prompts", {{"instructions", "You answer about the weather in {{city}}."},
                                     {"input", "What about {{day}}?"}}));
  auto id = p["id"].get<std::string>();
  (void)ok(r.post("/v1/prompts/" + id + "/versions",
                  {{"instructions", "Weather in {{city}}, in one word."}}));

  json use{{"model", "llama3.2:1b"},
           {"instructions", "Reply in French."},
           {"prompt",
            {{"id", id}, {"version", "1"}, {"variables", {{"city", "Lyon"}, {"day", "Sunday"}}}}},
           {"input", "and be quick"}};
  auto resp = ok(r.post("/v1/responses", use));
  BOOST_TEST(resp["status"] == "completed");
  BOOST_TEST(resp["prompt"]["id"] == id);
  BOOST_TEST(resp["prompt"]["version"] == "1");
  BOOST_TEST(resp["instructions"] == "You answer about the weather in Lyon.\n\nReply in French.");
  auto sent = b.requests().back()["messages"];
  BOOST_REQUIRE(sent.size() == 3u);
  BOOST_TEST(sent[0]["content"] == "You answer about the weather in Lyon.\n\nReply in French.");
  BOOST_TEST(sent[1]["content"] == "What about Sunday?");
  BOOST_TEST(sent[2]["content"] == "and be quick");
  auto items =
      ok(r.get("/v1/responses/" + resp["id"].get<std::string>() + "/input_items?order=asc"));
  BOOST_REQUIRE(items["data"].size() == 2u);
  BOOST_TEST(items["data"][0]["content"][0]["text"] == "What about Sunday?");

  // No version: the latest. A prompt alone is a whole input.
  auto latest =
      ok(r.post("/v1/responses", {{"model", "llama3.2:1b"},
                                  {"prompt", {{"id", id}, {"variables", {{"city", "Oslo"}}}}}}));
  BOOST_TEST(latest["instructions"] == "Weather in Oslo, in one word.");

  // Variables must match the template.
  refused(r.post("/v1/responses",
                 {{"model", "llama3.2:1b"},
                  {"prompt", {{"id", id}, {"version", "1"}, {"variables", {{"city", "Lyon"}}}}}}),
          400, "missing_required_parameter", "prompt.variables.day");
  refused(r.post("/v1/responses",
                 {{"model", "llama3.2:1b"},
                  {"prompt", {{"id", id}, {"variables", {{"city", "x"}, {"mood", "y"}}}}}}),
          400, "unknown_parameter", "prompt.variables.mood");
  refused(r.post("/v1/responses",
                 {{"model", "llama3.2:1b"},
                  {"prompt", {{"id", id}, {"version", "7"}, {"variables", {{"city", "x"}}}}}}),
          404, "not_found", "prompt.version");

  // The tokens a prompt adds are counted like the rest.
  auto bare = ok(r.post("/v1/responses/input_tokens", {{"model", "llama3.2:1b"}, {"input", "hi"}}));
  auto with = ok(r.post("/v1/responses/input_tokens",
                        {{"model", "llama3.2:1b"},
                         {"input", "hi"},
                         {"prompt", {{"id", id}, {"variables", {{"city", "Oslo"}}}}}}));
  BOOST_TEST(with["input_tokens"].get<int>() > bare["input_tokens"].get<int>() + 5);
}

BOOST_AUTO_TEST_SUITE_END()
