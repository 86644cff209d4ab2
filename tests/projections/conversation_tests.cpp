// The conversation fold: what its events make of a conversation, and the
// pages GET .../items serves.
#include "events/event.hpp"
#include "projections/conversation.hpp"

#include <boost/test/unit_test.hpp>

namespace rp = riposte::projections;
namespace ev = riposte::events;
using json = nlohmann::json;

namespace {

ev::envelope stored(const ev::event& e, std::uint64_t seq, std::string tenant = "t") {
  auto made = ev::make_new_event(e, tenant, 0);
  ev::envelope env;
  env.stream = "conv_1";
  env.seq = seq;
  env.type = made.type;
  env.version = made.version;
  env.tenant = std::move(tenant);
  env.data = ev::data_of(e);
  return env;
}

json item(const std::string& id) {
  return {{"type", "message"}, {"id", id}, {"role", "user"}, {"content", json::array()}};
}

rp::conversation_state fold_conversation(const std::vector<ev::event>& events) {
  rp::conversation_state s;
  std::uint64_t seq = 0;
  for (const auto& e : events) {
    auto next = rp::apply(std::move(s), stored(e, seq++));
    BOOST_REQUIRE_MESSAGE(next.has_value(), (next ? std::string{} : next.error().message));
    s = std::move(*next);
  }
  return s;
}

std::vector<std::string> ids(const json& items) {
  std::vector<std::string> out;
  for (const auto& i : items)
    out.push_back(i["id"].get<std::string>());
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conversation)

BOOST_AUTO_TEST_CASE(events_make_the_conversation) {
  auto s = fold_conversation({ev::conversation_created{"conv_1", {{"k", "v"}}, 1764000000},
                              ev::conversation_items_added{json::array({item("a"), item("b")}), ""},
                              ev::conversation_items_added{json::array({item("c")}), "resp_1"},
                              ev::conversation_item_deleted{"b"},
                              ev::conversation_updated{{{"x", "y"}}}});
  BOOST_TEST(s.id == "conv_1");
  BOOST_TEST(s.tenant == "t");
  BOOST_TEST(s.version == 4);
  BOOST_TEST(ids(s.items) == (std::vector<std::string>{"a", "c"}));
  BOOST_TEST(rp::conversation_object(s) == json({{"id", "conv_1"},
                                                 {"object", "conversation"},
                                                 {"created_at", 1764000000},
                                                 {"metadata", {{"x", "y"}}}}));
  BOOST_TEST(rp::find_item(s, "c") != nullptr);
  BOOST_TEST(rp::find_item(s, "b") == nullptr);
  auto gone = fold_conversation(
      {ev::conversation_created{"conv_1", json::object(), 0}, ev::conversation_deleted{}});
  BOOST_TEST(gone.deleted);
}

BOOST_AUTO_TEST_CASE(a_foreign_or_early_event_is_corrupt) {
  rp::conversation_state s;
  auto early = rp::apply(s, stored(ev::conversation_items_added{json::array(), ""}, 0));
  BOOST_REQUIRE(!early.has_value());
  BOOST_TEST((early.error().code == ev::riposte_errc::corrupt_event));
  auto created = rp::apply(s, stored(ev::conversation_created{"conv_1", json::object(), 0}, 0));
  BOOST_REQUIRE(created.has_value());
  auto foreign = rp::apply(*created, stored(ev::response_deleted{}, 1));
  BOOST_REQUIRE(!foreign.has_value());
  BOOST_TEST((foreign.error().code == ev::riposte_errc::corrupt_event));
  auto twice =
      rp::apply(*created, stored(ev::conversation_created{"conv_1", json::object(), 0}, 1));
  BOOST_TEST(!twice.has_value());
}

BOOST_AUTO_TEST_CASE(pages_count_after_in_the_order_asked) {
  json items = json::array();
  for (const char* id : {"a", "b", "c", "d", "e"})
    items.push_back(item(id));
  auto s = fold_conversation({ev::conversation_created{"conv_1", json::object(), 0},
                              ev::conversation_items_added{items, ""}});
  rp::items_query q;
  q.limit = 2;
  auto desc = rp::page_conversation_items(s, q);
  BOOST_REQUIRE(desc.has_value());
  BOOST_TEST(ids(desc->data) == (std::vector<std::string>{"e", "d"}));
  BOOST_TEST(desc->has_more);
  q.after = "d";
  BOOST_TEST(ids(rp::page_conversation_items(s, q)->data) == (std::vector<std::string>{"c", "b"}));
  q.ascending = true;
  auto asc = rp::page_conversation_items(s, q);
  BOOST_TEST(ids(asc->data) == (std::vector<std::string>{"e"}));
  BOOST_TEST(!asc->has_more);
  q.after = "zz";
  auto missing = rp::page_conversation_items(s, q);
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == ev::riposte_errc::item_not_found));
  BOOST_TEST(missing.error().param == "after");
  BOOST_TEST(missing.error().message == "No item found with id 'zz'");
}

BOOST_AUTO_TEST_CASE(a_snapshot_gives_back_the_state_it_was_made_of) {
  auto s = fold_conversation({ev::conversation_created{"conv_1", {{"k", "v"}}, 1764000000},
                              ev::conversation_items_added{json::array({item("a"), item("b")}), ""},
                              ev::conversation_item_deleted{"a"}, ev::conversation_deleted{}});
  auto back = rp::conversation_from_snapshot({3, rp::to_conversation_snapshot(s)});
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->id == s.id);
  BOOST_TEST(back->tenant == "t");
  BOOST_TEST(back->created_at == s.created_at);
  BOOST_TEST(back->metadata == s.metadata);
  BOOST_TEST(back->items == s.items);
  BOOST_TEST(back->deleted);
  BOOST_TEST(back->version == 3);
  BOOST_TEST(back->snapshot_version == 3);
  // The events after it fold on as they would have.
  auto next = rp::apply(*back, stored(ev::conversation_updated{{{"x", "y"}}}, 4));
  BOOST_REQUIRE(next.has_value());
  BOOST_TEST(next->version == 4);
  // Not ours, or not at the seq it claims: nothing.
  for (const char* bad : {"", "[]", "{}", R"({"format":2})", "\xff"})
    BOOST_TEST(!rp::conversation_from_snapshot({3, bad}).has_value());
  BOOST_TEST(!rp::conversation_from_snapshot({4, rp::to_conversation_snapshot(s)}).has_value());
  auto broken = json::parse(rp::to_conversation_snapshot(s));
  broken["items"] = "x";
  BOOST_TEST(!rp::conversation_from_snapshot({3, broken.dump()}).has_value());
}

// On a store replicas share, a turn's lock is in the stream: it holds from
// its beginning to its items or its end (another response's end frees
// nothing), and a snapshot keeps it.
BOOST_AUTO_TEST_CASE(a_turn_holds_the_conversation_until_its_items_or_its_end) {
  auto s = fold_conversation({ev::conversation_created{"conv_1", json::object(), 0},
                              ev::conversation_turn_began{"resp_a", "a/1"}});
  BOOST_TEST(s.turn_response == "resp_a");
  BOOST_TEST(s.turn_holder == "a/1");
  auto other = rp::apply(s, stored(ev::conversation_turn_ended{"resp_b"}, 2));
  BOOST_REQUIRE(other.has_value());
  BOOST_TEST(other->turn_response == "resp_a");
  auto api =
      rp::apply(*other, stored(ev::conversation_items_added{json::array({item("x")}), ""}, 3));
  BOOST_REQUIRE(api.has_value());
  BOOST_TEST(api->turn_response == "resp_a"); // items through the API: still held
  auto back = rp::conversation_from_snapshot({3, rp::to_conversation_snapshot(*api)});
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->turn_response == "resp_a");
  BOOST_TEST(back->turn_holder == "a/1");
  auto appended =
      rp::apply(*back, stored(ev::conversation_items_added{json::array({item("y")}), "resp_a"}, 4));
  BOOST_REQUIRE(appended.has_value());
  BOOST_TEST(appended->turn_response.empty());
  BOOST_TEST(appended->turn_holder.empty());
  auto again = rp::apply(*appended, stored(ev::conversation_turn_began{"resp_c", "b/2"}, 5));
  BOOST_REQUIRE(again.has_value());
  auto ended = rp::apply(*again, stored(ev::conversation_turn_ended{"resp_c"}, 6));
  BOOST_REQUIRE(ended.has_value());
  BOOST_TEST(ended->turn_response.empty());
  // A snapshot without a lock has none; a malformed one is no snapshot.
  BOOST_TEST(rp::conversation_from_snapshot({6, rp::to_conversation_snapshot(*ended)})
                 ->turn_response.empty());
  auto broken = json::parse(rp::to_conversation_snapshot(*back));
  broken["turn"]["holder"] = 7;
  BOOST_TEST(!rp::conversation_from_snapshot({3, broken.dump()}).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
