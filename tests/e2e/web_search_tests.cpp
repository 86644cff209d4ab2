// The hosted web_search tool served through a provider riposte runs: the
// scripted backend plays both the model and a SearXNG server.
#include "tests/support/json_body.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

const char* meteo = "https://meteo.example.org/paris";

// The model searches once, then answers citing what it found.
json searching_script(json searxng = json::object()) {
  if (searxng.empty())
    searxng = {{"results",
                {{{"url", meteo}, {"title", "Paris weather"}, {"content", "Sunny, 21 C today."}},
                 {{"url", "https://ads.blocked.example.com/x"},
                  {"title", "Cheap flights"},
                  {"content", "Buy now"}},
                 {{"url", "https://news.example.net/paris"},
                  {"title", "Paris news"},
                  {"content", "Warm week ahead."}}}}};
  return {{"searxng", searxng},
          {"rules",
           {{{"match", {{"has_tool_result", false}}},
             {"reply",
              {{"chunks",
                {{{"tool_calls",
                   {{{"function",
                      {{"name", "web_search"},
                       {"arguments", {{"query", "Paris weather today"}}}}}}}}}}}}}},
            {{"match", {{"has_tool_result", true}}},
             {"reply",
              {{"chunks",
                {{{"content", "It is sunny in Paris, says "}},
                 {{"content", std::string{meteo} + "."}}}}}}}}}};
}

json ask(json tool = {{"type", "web_search"}}) {
  return {{"model", "llama3.2:1b"},
          {"input", "What is the weather in Paris?"},
          {"tools", json::array({tool})},
          {"include", json::array({"web_search_call.action.sources"})}};
}

std::vector<std::string> source_urls(const json& call) {
  std::vector<std::string> out;
  for (const auto& s : call["action"].value("sources", json::array()))
    out.push_back(s["url"].get<std::string>());
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(web_search)

BOOST_AUTO_TEST_CASE(a_web_search_runs_through_searxng_and_the_answer_cites_it) {
  scripted_backend b{searching_script()};
  riposte_server r{
      b.url(), {"--web-search", "searxng:" + b.url(), "--web-search-block", "blocked.example.com"}};
  auto res = r.post("/v1/responses", ask());
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto resp = json_body(res);
  BOOST_TEST(resp["status"] == "completed");
  BOOST_REQUIRE(resp["output"].size() == 2u);
  const auto& call = resp["output"][0];
  BOOST_TEST(call["type"] == "web_search_call");
  BOOST_TEST(call["status"] == "completed");
  BOOST_TEST(call["id"].get<std::string>().rfind("ws_", 0) == 0u);
  BOOST_TEST(call["action"]["type"] == "search");
  BOOST_TEST(call["action"]["query"] == "Paris weather today");
  BOOST_TEST(call["action"]["queries"] == json::array({"Paris weather today"}));
  BOOST_TEST(source_urls(call) ==
                 (std::vector<std::string>{meteo, "https://news.example.net/paris"}),
             boost::test_tools::per_element()); // the operator's blocked domain is gone
  const auto& text = resp["output"][1]["content"][0];
  BOOST_TEST(text["text"] == std::string{"It is sunny in Paris, says "} + meteo + ".");
  BOOST_REQUIRE(text["annotations"].size() == 1u);
  const auto& cite = text["annotations"][0];
  BOOST_TEST(cite["type"] == "url_citation");
  BOOST_TEST(cite["url"] == meteo);
  BOOST_TEST(cite["title"] == "Paris weather");
  BOOST_TEST(text["text"].get<std::string>().substr(cite["start_index"].get<std::size_t>(),
                                                    cite["end_index"].get<std::size_t>() -
                                                        cite["start_index"].get<std::size_t>()) ==
             meteo);
  // Two generations, one usage; the model saw the results as the tool's output.
  auto sent = b.requests();
  BOOST_REQUIRE(sent.size() == 2u);
  BOOST_TEST(sent[0]["tools"][0]["function"]["name"] == "web_search");
  std::string tool_output;
  for (const auto& m : sent[1]["messages"])
    if (m["role"] == "tool")
      tool_output = m["content"].get<std::string>();
  BOOST_TEST(tool_output.find("Sunny, 21 C today.") != std::string::npos, tool_output);
  BOOST_TEST(tool_output.find("Cheap flights") == std::string::npos);
  BOOST_TEST(resp["usage"]["total_tokens"].get<int>() >
             sent.size()); // both generations are counted
  auto searched = json::parse(http_call("GET", b.url() + "/_scripted/searches", "").body);
  BOOST_TEST(searched == json::array({"Paris weather today"}));
  // What GET returns is what the create answered.
  BOOST_TEST(json_body(r.get("/v1/responses/" + resp["id"].get<std::string>())) == resp);
}

BOOST_AUTO_TEST_CASE(a_streamed_web_search_steps_through_its_events_in_order) {
  scripted_backend b{searching_script()};
  riposte_server r{b.url(), {"--web-search", "searxng:" + b.url()}};
  auto body = ask();
  body["stream"] = true;
  auto got = sse_call("POST", r.url("/v1/responses"), body.dump());
  auto problems = validate_stream(got.events, 0, true);
  BOOST_TEST(problems.empty(), (problems.empty() ? "" : problems.front()));
  std::vector<std::string> steps;
  for (const auto& e : got.events) {
    auto type = e["type"].get<std::string>();
    if (type.rfind("response.web_search_call.", 0) == 0 ||
        (type.rfind("response.output_item.", 0) == 0 && e["item"]["type"] == "web_search_call"))
      steps.push_back(type);
  }
  BOOST_TEST(steps == (std::vector<std::string>{
                          "response.output_item.added", "response.web_search_call.in_progress",
                          "response.web_search_call.searching",
                          "response.web_search_call.completed", "response.output_item.done"}),
             boost::test_tools::per_element());
  auto final = got.events.back();
  BOOST_TEST(final["type"] == "response.completed");
  auto stored = json_body(r.get("/v1/responses/" + final["response"]["id"].get<std::string>()));
  BOOST_TEST(stored == final["response"]);
}

BOOST_AUTO_TEST_CASE(allowed_domains_narrow_the_results_the_model_gets) {
  scripted_backend b{searching_script()};
  riposte_server r{b.url(), {"--web-search", "searxng:" + b.url()}};
  auto resp = json_body(r.post(
      "/v1/responses",
      ask({{"type", "web_search"}, {"filters", {{"allowed_domains", {"news.example.net"}}}}})));
  BOOST_TEST(source_urls(resp["output"][0]) ==
                 (std::vector<std::string>{"https://news.example.net/paris"}),
             boost::test_tools::per_element());
  // The answer names a URL the search did not give it: no citation.
  BOOST_TEST(resp["output"][1]["content"][0]["annotations"].empty());
}

BOOST_AUTO_TEST_CASE(a_provider_that_fails_or_hangs_fails_the_call_not_the_response) {
  for (json searxng : {json{{"status", 502}}, json{{"delay_ms", 5000}}}) {
    scripted_backend b{searching_script(searxng)};
    riposte_server r{b.url(),
                     {"--web-search", "searxng:" + b.url(), "--web-search-timeout-ms", "300"}};
    auto t0 = std::chrono::steady_clock::now();
    auto resp = json_body(r.post("/v1/responses", ask()));
    auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    BOOST_TEST(took < 3000);
    BOOST_TEST(resp["status"] == "completed");
    BOOST_TEST(resp["output"][0]["status"] == "failed");
    std::string tool_output;
    auto sent = b.requests(); // (a range-for over a temporary's element dangles)
    for (const auto& m : sent.back()["messages"])
      if (m["role"] == "tool")
        tool_output = m["content"].get<std::string>();
    BOOST_TEST(tool_output.find("The web search failed") != std::string::npos, tool_output);
  }
}

BOOST_AUTO_TEST_CASE(a_static_provider_serves_a_fixed_result_set) {
  auto file = std::filesystem::temp_directory_path() /
              ("riposte_static_search_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out{file};
    out << json{{"results",
                 {{{"url", meteo}, {"title", "Paris weather"}, {"content", "Sunny."}},
                  {{"url", "https://example.org/cooking"},
                   {"title", "Soup"},
                   {"content", "Leeks."}}}}}
               .dump();
  }
  scripted_backend b{searching_script()};
  riposte_server r{b.url(), {"--web-search", "static:" + file.string()}};
  auto resp = json_body(r.post("/v1/responses", ask()));
  BOOST_TEST(source_urls(resp["output"][0]) == (std::vector<std::string>{meteo}),
             boost::test_tools::per_element()); // what matches the query's words
  std::filesystem::remove(file);
  // A provider that cannot be read is a start-up error, at once.
  child_process bad{{riposte_binary(), "--listen", "127.0.0.1:0", "--store", "memory",
                     "--web-search", "static:/nonexistent.json"}};
  auto code = bad.wait_exit(std::chrono::seconds(10));
  BOOST_TEST(code != 0);
  BOOST_TEST(code != -1);
  BOOST_TEST(bad.output().find("--web-search") != std::string::npos, bad.output());
}

BOOST_AUTO_TEST_SUITE_END()
