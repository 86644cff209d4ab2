// Rendering prompt templates: {{variables}} filled with text, images and
// files where they may go, and precise errors where they may not.
#include "actors/prompts.hpp"

#include <boost/test/unit_test.hpp>

namespace ra = riposte::actors;
using json = nlohmann::json;

namespace {

riposte::events::prompt_version_created version() {
  riposte::events::prompt_version_created v;
  v.prompt_id = "pmpt_1";
  v.prompt_version = 3;
  v.instructions = "You help with the weather in {{ city }}. Be {{tone}}.";
  v.input = json::parse(R"([
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "Look at {{photo}} and tell me about {{day}}."}]},
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "Noted: {{city}}."}]}])");
  return v;
}

json vars() {
  return {{"city", "Lyon"},
          {"tone", {{"type", "input_text"}, {"text", "brief"}}},
          {"day", "Sunday"},
          {"photo", {{"type", "input_image"}, {"image_url", "data:image/png;base64,AAAA"}}}};
}

} // namespace

BOOST_AUTO_TEST_CASE(variables_are_listed_once_in_order_of_use) {
  auto v = version();
  BOOST_TEST(ra::prompt_variables(v.instructions, v.input) ==
                 (std::vector<std::string>{"city", "tone", "photo", "day"}),
             boost::test_tools::per_element());
  BOOST_TEST(ra::prompt_variables("no {{ }} or {{two words}} here", json::array()).empty());
}

BOOST_AUTO_TEST_CASE(text_fills_in_place_and_an_image_becomes_its_own_part) {
  auto r = ra::render_prompt(version(), vars());
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  BOOST_TEST(r->instructions == "You help with the weather in Lyon. Be brief.");
  auto parts = r->input[0]["content"];
  BOOST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[0] == (json{{"type", "input_text"}, {"text", "Look at "}}));
  BOOST_TEST(parts[1]["type"] == "input_image");
  BOOST_TEST(parts[2] == (json{{"type", "input_text"}, {"text", " and tell me about Sunday."}}));
  BOOST_TEST(r->input[1]["content"][0]["text"] == "Noted: Lyon.");
}

BOOST_AUTO_TEST_CASE(missing_unknown_and_misplaced_variables_name_themselves) {
  auto v = vars();
  v.erase("day");
  auto missing = ra::render_prompt(version(), v);
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().param == "prompt.variables.day");
  BOOST_TEST(missing.error().message.find("{{day}}") != std::string::npos);

  v = vars();
  v["extra"] = "x";
  auto unknown = ra::render_prompt(version(), v);
  BOOST_REQUIRE(!unknown.has_value());
  BOOST_TEST(unknown.error().param == "prompt.variables.extra");

  v = vars();
  v["city"] = {{"type", "input_file"}, {"file_id", "file-1"}}; // instructions take text only
  auto misplaced = ra::render_prompt(version(), v);
  BOOST_REQUIRE(!misplaced.has_value());
  BOOST_TEST(misplaced.error().param == "prompt.variables.city");
}
