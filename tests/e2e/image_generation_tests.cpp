// The hosted image_generation tool served through a provider riposte runs:
// the scripted backend plays the model, Automatic1111 and ComfyUI.
#include "tests/support/json_body.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

const std::string png_b64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

// The model asks for one image, then says it is done.
json drawing_script(json providers = json::object()) {
  json script{
      {"rules",
       {{{"match", {{"has_tool_result", false}}},
         {"reply",
          {{"chunks",
            {{{"tool_calls",
               {{{"function",
                  {{"name", "image_generation"},
                   {"arguments", {{"prompt", "a red fox in the snow, watercolour"}}}}}}}}}}}}}},
        {{"match", {{"has_tool_result", true}}},
         {"reply", {{"chunks", {{{"content", "Here is your fox."}}}}}}}}}};
  for (const auto& [k, v] : providers.items())
    script[k] = v;
  return script;
}

json draw(json tool = {{"type", "image_generation"}}) {
  return {{"model", "llama3.2:1b"}, {"input", "Draw me a fox."}, {"tools", json::array({tool})}};
}

json images_sent(scripted_backend& b) {
  return json::parse(http_call("GET", b.url() + "/_scripted/images", "").body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(image_generation)

BOOST_AUTO_TEST_CASE(automatic1111_draws_the_image_the_model_asked_for) {
  scripted_backend b{drawing_script()};
  riposte_server r{b.url(), {"--image-generation", "a1111:" + b.url()}};
  auto res = r.post("/v1/responses",
                    draw({{"type", "image_generation"}, {"size", "512x768"}, {"quality", "low"}}));
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto resp = json_body(res);
  BOOST_TEST(resp["status"] == "completed");
  BOOST_REQUIRE(resp["output"].size() == 2u);
  const auto& call = resp["output"][0];
  BOOST_TEST(call["type"] == "image_generation_call");
  BOOST_TEST(call["id"].get<std::string>().rfind("ig_", 0) == 0u);
  BOOST_TEST(call["status"] == "completed");
  BOOST_TEST(call["result"] == png_b64);
  BOOST_TEST(call["size"] == "512x768");
  BOOST_TEST(call["quality"] == "low");
  BOOST_TEST(call["output_format"] == "png");
  BOOST_TEST(call["revised_prompt"] == "a red fox in the snow, watercolour");
  BOOST_TEST(resp["output"][1]["content"][0]["text"] == "Here is your fox.");
  auto sent = images_sent(b);
  BOOST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(sent[0]["prompt"] == "a red fox in the snow, watercolour");
  BOOST_TEST(sent[0]["width"] == 512);
  BOOST_TEST(sent[0]["height"] == 768);
  BOOST_TEST(json_body(r.get("/v1/responses/" + resp["id"].get<std::string>())) == resp);
}

BOOST_AUTO_TEST_CASE(comfyui_runs_a_txt2img_workflow_polls_its_history_and_fetches_the_file) {
  scripted_backend b{drawing_script({{"comfyui", {{"polls", 3}}}})};
  riposte_server r{b.url(),
                   {"--image-generation", "comfyui:" + b.url(), "--image-generation-checkpoint",
                    "sdxl.safetensors"}};
  auto body = draw();
  body["stream"] = true;
  auto got = sse_call("POST", r.url("/v1/responses"), body.dump());
  auto problems = validate_stream(got.events, 0, true);
  BOOST_TEST(problems.empty(), (problems.empty() ? "" : problems.front()));
  std::vector<std::string> steps;
  for (const auto& e : got.events) {
    auto type = e["type"].get<std::string>();
    if (type.rfind("response.image_generation_call.", 0) == 0)
      steps.push_back(type);
  }
  BOOST_TEST(steps == (std::vector<std::string>{"response.image_generation_call.in_progress",
                                                "response.image_generation_call.generating",
                                                "response.image_generation_call.completed"}),
             boost::test_tools::per_element());
  auto final = got.events.back()["response"];
  BOOST_TEST(final["output"][0]["result"] == png_b64);
  BOOST_TEST(final["output"][0]["size"] == "1024x1024"); // auto
  auto workflow = images_sent(b)[0]["prompt"];
  BOOST_TEST(workflow["4"]["inputs"]["ckpt_name"] == "sdxl.safetensors");
  BOOST_TEST(workflow["6"]["inputs"]["text"] == "a red fox in the snow, watercolour");
  BOOST_TEST(workflow["9"]["class_type"] == "SaveImage");
}

BOOST_AUTO_TEST_CASE(a_size_over_the_cap_is_refused_and_a_failing_provider_fails_the_call) {
  scripted_backend b{drawing_script({{"a1111", {{"status", 500}}}})};
  riposte_server r{b.url(),
                   {"--image-generation", "a1111:" + b.url(), "--image-generation-max-size",
                    "512x512", "--image-generation-timeout-ms", "400"}};
  auto big = r.post("/v1/responses", draw({{"type", "image_generation"}, {"size", "1024x1536"}}));
  BOOST_TEST(big.status == 400, big.body);
  BOOST_TEST(json_body(big)["error"]["param"] == "tools[0].size");
  auto odd = r.post("/v1/responses", draw({{"type", "image_generation"}, {"size", "huge"}}));
  BOOST_TEST(json_body(odd)["error"]["param"] == "tools[0].size");
  BOOST_TEST(b.requests().empty()); // refused before the model was asked

  auto failed = json_body(r.post("/v1/responses", draw()));
  BOOST_TEST(failed["status"] == "completed");
  BOOST_TEST(failed["output"][0]["status"] == "failed");
  BOOST_TEST(failed["output"][0]["result"].is_null());
  auto sent = b.requests();
  std::string told;
  for (const auto& m : sent.back()["messages"])
    if (m["role"] == "tool")
      told = m["content"].get<std::string>();
  BOOST_TEST(told.find("could not be generated") != std::string::npos, told);

  // A provider that hangs past the timeout: the same, promptly.
  b.set_script(drawing_script({{"a1111", {{"delay_ms", 5000}}}}));
  auto t0 = std::chrono::steady_clock::now();
  auto slow = json_body(r.post("/v1/responses", draw()));
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  BOOST_TEST(took < 3000);
  BOOST_TEST(slow["output"][0]["status"] == "failed");
}

BOOST_AUTO_TEST_SUITE_END()
