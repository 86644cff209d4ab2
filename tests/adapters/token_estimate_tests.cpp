// The token estimate: the shape of byte-level BPE counting. Its accuracy
// against a real tokenizer is measured in tests/sdk/tokens.test.mjs.
#include "adapters/backends/token_estimate.hpp"

#include <boost/test/unit_test.hpp>

using riposte::adapters::backends::estimate_chat_tokens;
using riposte::adapters::backends::estimate_tokens;
using json = nlohmann::json;

BOOST_AUTO_TEST_CASE(common_words_numbers_and_punctuation_count_like_bpe_pieces) {
  BOOST_TEST(estimate_tokens("") == 0);
  BOOST_TEST(estimate_tokens("hello") == 1);
  BOOST_TEST(estimate_tokens("The quick brown fox") == 4); // words carry their leading space
  BOOST_TEST(estimate_tokens("1234567") == 3);             // digits in threes
  BOOST_TEST(estimate_tokens("a, b.") == 4);
  BOOST_TEST(estimate_tokens("responseActor") == 2); // camelCase humps
  BOOST_TEST(estimate_tokens("internationalization") > 1);
  BOOST_TEST(estimate_tokens("line one\nline two") == 5);
  // Non-Latin scripts cost more per character than English words.
  BOOST_TEST(estimate_tokens("敏捷的棕色狐狸") >= 4);
  BOOST_TEST(estimate_tokens("Быстрая коричневая лиса") >= 6);
  // Invalid UTF-8 is counted, not refused.
  BOOST_TEST(estimate_tokens(std::string("\xff\xfe abc", 6)) >= 2);
}

BOOST_AUTO_TEST_CASE(a_chat_counts_messages_images_calls_and_tools) {
  json body{{"messages", json::array({{{"role", "user"}, {"content", "hello"}}})}};
  auto one = estimate_chat_tokens(body);
  BOOST_TEST(one == 5 + 5 + 1);
  body["messages"][0]["images"] = json::array({"aGVsbG8="});
  BOOST_TEST(estimate_chat_tokens(body) == one + 576);
  body["messages"].push_back(
      {{"role", "assistant"},
       {"content", ""},
       {"tool_calls",
        json::array(
            {{{"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}})}});
  BOOST_TEST(estimate_chat_tokens(body) > one + 576 + 5);
  auto without_tools = estimate_chat_tokens(body);
  body["tools"] = json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}}}}});
  BOOST_TEST(estimate_chat_tokens(body) > without_tools);
}
