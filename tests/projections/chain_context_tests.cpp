// The folds that moved beside the Response view: the chain context's
// snapshot codec, usage added across generations, input-items pages.
#include "projections/chain_context.hpp"
#include "projections/input_items.hpp"
#include "projections/usage.hpp"

#include <boost/test/unit_test.hpp>

namespace rp = riposte::projections;
using json = nlohmann::json;

BOOST_AUTO_TEST_SUITE(chain_context)

BOOST_AUTO_TEST_CASE(a_checkpoint_stores_the_whole_chain_and_any_other_segment_only_its_own) {
  auto root = std::make_shared<rp::chain_segment>(nullptr, json::array({{{"id", "a"}}}), 1);
  rp::chain_segment leaf{root, json::array({{{"id", "b"}}, {{"id", "c"}}}), 2};
  leaf.model = "qwen3:0.6b";
  leaf.instructions_fp = rp::fingerprint_of("Be brief.");
  leaf.prefix_tokens = 17;
  auto whole = rp::from_chain_snapshot(rp::to_chain_snapshot(leaf, true, "resp_root"));
  BOOST_REQUIRE(whole.segment);
  BOOST_TEST(whole.parent_id.empty());
  BOOST_TEST(whole.segment->items == json::array({{{"id", "a"}}, {{"id", "b"}}, {{"id", "c"}}}));
  BOOST_TEST(whole.segment->depth == 2);
  BOOST_TEST(whole.segment->model == "qwen3:0.6b");
  BOOST_TEST(whole.segment->instructions_fp == leaf.instructions_fp);
  BOOST_TEST(whole.segment->prefix_tokens == 17);
  auto own = rp::from_chain_snapshot(rp::to_chain_snapshot(leaf, false, "resp_root"));
  BOOST_TEST(own.parent_id == "resp_root");
  BOOST_TEST(own.segment->items == json::array({{{"id", "b"}}, {{"id", "c"}}}));
  BOOST_TEST(rp::chain_items(whole.segment).size() == 3u);
  BOOST_TEST(!rp::from_chain_snapshot("not json").segment);
  // Written as text, byte for byte what the stored format has always been
  // (the members in this order, strings escaped as dump() escapes them).
  leaf.model = "m\"odel\xff";
  BOOST_TEST(rp::to_chain_snapshot(leaf, false, "resp_\n") ==
             "{\"depth\":2,\"model\":" +
                 json(leaf.model).dump(-1, ' ', false, json::error_handler_t::replace) +
                 ",\"instructions_fp\":\"" + leaf.instructions_fp +
                 "\",\"prefix_tokens\":17,\"parent\":\"resp_\\n\",\"items\":[{\"id\":\"b\"},{"
                 "\"id\":\"c\"}]}");
}

BOOST_AUTO_TEST_CASE(instructions_fingerprints_differ_when_the_instructions_do) {
  BOOST_TEST(rp::fingerprint_of("a") == rp::fingerprint_of("a"));
  BOOST_TEST(rp::fingerprint_of("a") != rp::fingerprint_of("b"));
  BOOST_TEST(rp::fingerprint_of(json()) != rp::fingerprint_of(""));
  BOOST_TEST(rp::fingerprint_of(json()).size() == 16u);
}

BOOST_AUTO_TEST_CASE(usage_adds_up_across_generations_and_a_missing_one_counts_nothing) {
  json a{{"input_tokens", 10},
         {"input_tokens_details", {{"cached_tokens", 4}}},
         {"output_tokens", 3},
         {"output_tokens_details", {{"reasoning_tokens", 1}}},
         {"total_tokens", 13}};
  json b{{"input_tokens", 20}, {"output_tokens", 5}};
  auto sum = rp::add_usage(a, b);
  BOOST_TEST(sum["input_tokens"] == 30);
  BOOST_TEST(sum["input_tokens_details"]["cached_tokens"] == 4);
  BOOST_TEST(sum["output_tokens_details"]["reasoning_tokens"] == 1);
  BOOST_TEST(sum["total_tokens"] == 38);
  BOOST_TEST(rp::add_usage(json(), b) == b);
  BOOST_TEST(rp::add_usage(a, json()) == a);
  // Details that are not objects count as nothing (and do not throw).
  json odd{{"input_tokens", 1}, {"input_tokens_details", nullptr}};
  BOOST_TEST(rp::add_usage(odd, odd)["input_tokens_details"]["cached_tokens"] == 0);
}

BOOST_AUTO_TEST_CASE(input_item_pages_follow_the_order_and_cursors_asked) {
  json items = json::array();
  for (const char* id : {"m1", "m2", "m3", "m4", "m5"})
    items.push_back({{"id", id}});
  rp::items_query q;
  q.limit = 2;
  auto first = rp::page_items(items, q); // newest first by default
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(first->data == json::array({{{"id", "m5"}}, {{"id", "m4"}}}));
  BOOST_TEST(first->has_more);
  q.after = "m4";
  BOOST_TEST(rp::page_items(items, q)->data[0]["id"] == "m3");
  q = {};
  q.ascending = true;
  q.after = "m2";
  q.before = "m5";
  auto middle = rp::page_items(items, q);
  BOOST_TEST(middle->data == json::array({{{"id", "m3"}}, {{"id", "m4"}}}));
  BOOST_TEST(!middle->has_more);
  q.after = "m9";
  auto missing = rp::page_items(items, q);
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().param == "after");
}

BOOST_AUTO_TEST_SUITE_END()
