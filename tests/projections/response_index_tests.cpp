// The operator's index of responses: rows folded from the feed, every filter
// checked against what the generator itself knows of each response, cursor
// pages that neither skip nor repeat, and segments that restore the index so
// that folding on from the manifest's position ends where a fold that never
// stopped ends.
#include "events/event.hpp"
#include "projections/response_index.hpp"
#include "tests/support/response_mix.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <random>

namespace rp = riposte::projections;
using namespace riposte::tests;
namespace ev = riposte::events;
using json = nlohmann::json;

namespace {

// A feed under construction: streams keep their seq, positions are global.
struct feed {
  std::vector<ev::envelope> events;
  std::map<std::string, std::uint64_t> next_seq;

  void add(const std::string& stream, const std::string& tenant, std::int64_t at_us,
           const ev::event& e) {
    auto made = ev::make_new_event(e, tenant, at_us);
    ev::envelope env;
    env.stream = stream;
    env.seq = next_seq[stream]++;
    env.global_position = events.size() + 1;
    env.type = made.type;
    env.version = made.version;
    env.tenant = tenant;
    env.recorded_at = at_us;
    env.data = ev::data_of(e);
    events.push_back(std::move(env));
  }
};

std::vector<truth> generate(feed& f, std::size_t n, std::uint32_t seed,
                            std::vector<conversation_truth>* conversations = nullptr) {
  return mixed_responses(
      n, seed,
      [&](const std::string& stream, const std::string& tenant, std::int64_t at,
          const ev::event& e) { f.add(stream, tenant, at, e); },
      0, conversations);
}

rp::response_index fold(const feed& f) {
  rp::response_index index;
  for (const auto& e : f.events)
    index.apply(e);
  return index;
}

// Every row a filter selects, through every page.
template <class Filter>
std::vector<std::string> all_pages(const rp::response_index& index, Filter filter,
                                   std::size_t limit) {
  filter.limit = limit;
  std::vector<std::string> ids;
  for (int guard = 0; guard < 100000; ++guard) {
    auto page = index.query(filter);
    BOOST_TEST_REQUIRE(page.has_value());
    for (const auto& r : page->rows)
      ids.push_back(r.id);
    if (!page->has_more)
      break;
    BOOST_TEST_REQUIRE(!page->rows.empty());
    filter.after = page->rows.back().id;
  }
  return ids;
}

// Filters under test, each with the check of the truth it must agree with.
template <class Filter, class Truth>
struct filter_cases {
  struct one {
    const char* name;
    Filter filter;
    std::function<bool(const Truth&)> keep;
  };
  std::vector<one> all;
  template <class Set>
  void add(const char* name, Set set, std::function<bool(const Truth&)> keep) {
    Filter fl;
    set(fl);
    all.push_back({name, fl, std::move(keep)});
  }

  // Each filter, through pages of several sizes and in both orders,
  // returns exactly the ids its check keeps, newest first.
  void expect_as_scanned(const rp::response_index& index, const std::vector<Truth>& truths) const {
    for (const auto& c : all) {
      std::vector<std::string> expected;
      for (auto it = truths.rbegin(); it != truths.rend(); ++it)
        if (c.keep(*it))
          expected.push_back(it->id);
      BOOST_TEST_CONTEXT(c.name) {
        BOOST_TEST(!expected.empty());
        for (std::size_t limit : {1u, 7u, 100u}) {
          auto got = all_pages(index, c.filter, limit);
          BOOST_TEST(got == expected, "limit " << limit);
        }
        auto ascending = c.filter;
        ascending.ascending = true;
        auto got = all_pages(index, ascending, 50);
        std::reverse(got.begin(), got.end());
        BOOST_TEST(got == expected);
      }
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(response_index)

BOOST_AUTO_TEST_CASE(a_row_says_what_the_response_did_and_how_long_it_took) {
  feed f;
  f.add("resp_a", "acme", mix_t0,
        created("resp_a", "llama3.2:1b", 1'764'000'000, "stream",
                {{"previous_response_id", "resp_0"}}));
  f.add("resp_a", "acme", mix_t0 + 1, ev::response_in_progress{});
  f.add("resp_a", "acme", mix_t0 + 40'000, delta("Hi"));
  f.add("resp_a", "acme", mix_t0 + 45'000, delta(" there"));
  f.add("resp_a", "acme", mix_t0 + 250'000, ev::response_completed{1'764'000'001, usage(12, 30)});
  auto index = fold(f);
  BOOST_TEST(index.size() == 1u);
  BOOST_TEST(index.position() == 5u);
  const auto* r = index.find("resp_a");
  BOOST_TEST_REQUIRE(r != nullptr);
  auto row = rp::response_index::to_json(*r);
  BOOST_TEST(row["tenant"] == "acme");
  BOOST_TEST(row["mode"] == "stream");
  BOOST_TEST(row["status"] == "completed");
  BOOST_TEST(row["duration_ms"].get<double>() == 250.0);
  BOOST_TEST(row["time_to_first_token_ms"].get<double>() == 40.0);
  BOOST_TEST(row["usage"]["total_tokens"] == 42);
  BOOST_TEST(row["previous_response_id"] == "resp_0");
  BOOST_TEST(row["error_code"].is_null());
  BOOST_TEST(row["events"] == 5);
}

BOOST_AUTO_TEST_CASE(a_running_response_has_no_duration_and_a_v1_creation_no_mode) {
  feed f;
  // As a v1 event is read after its upcast: mode empty unless background.
  f.add("resp_b", "acme", mix_t0,
        ev::response_created{"resp_b", "m", 1, json::object(), json::array(), ""});
  f.add(
      "resp_c", "acme", mix_t0,
      ev::response_created{"resp_c", "m", 1, {{"background", true}}, json::array(), "background"});
  auto index = fold(f);
  auto b = rp::response_index::to_json(*index.find("resp_b"));
  auto c = rp::response_index::to_json(*index.find("resp_c"));
  BOOST_TEST(b["mode"].is_null());
  BOOST_TEST(b["status"] == "in_progress");
  BOOST_TEST(b["duration_ms"].is_null());
  BOOST_TEST(b["time_to_first_token_ms"].is_null());
  BOOST_TEST(b["usage"].is_null());
  BOOST_TEST(c["mode"] == "background");
  BOOST_TEST(c["status"] == "queued");
}

BOOST_AUTO_TEST_CASE(every_filter_returns_exactly_the_responses_a_scan_of_the_truth_returns) {
  feed f;
  auto truths = generate(f, 3000, 7);
  auto index = fold(f);
  BOOST_TEST(index.size() == truths.size());

  filter_cases<rp::index_filter, truth> cases;
  auto add = [&](const char* name, auto set, std::function<bool(const truth&)> keep) {
    cases.add(name, set, std::move(keep));
  };
  add(
      "everything", [](auto&) {}, [](const truth& t) { return !t.deleted; });
  add(
      "deleted too", [](auto& fl) { fl.include_deleted = true; },
      [](const truth&) { return true; });
  add(
      "tenant", [](auto& fl) { fl.tenant = "globex"; },
      [](const truth& t) { return !t.deleted && t.tenant == "globex"; });
  add(
      "status", [](auto& fl) { fl.status = "failed"; },
      [](const truth& t) { return !t.deleted && t.status == "failed"; });
  add(
      "model and mode",
      [](auto& fl) {
        fl.model = "qwen3:8b";
        fl.mode = "background";
      },
      [](const truth& t) { return !t.deleted && t.model == "qwen3:8b" && t.mode == "background"; });
  add(
      "error code", [](auto& fl) { fl.error_code = "backend_timeout"; },
      [](const truth& t) { return !t.deleted && t.error_code == "backend_timeout"; });
  // A conversation several responses ran on.
  std::map<std::string, int> runs;
  for (const auto& t : truths)
    if (!t.conversation.empty())
      ++runs[t.conversation];
  auto busiest = std::max_element(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
                   return a.second < b.second;
                 })->first;
  add(
      "conversation", [&](auto& fl) { fl.conversation = busiest; },
      [&](const truth& t) { return !t.deleted && t.conversation == busiest; });
  // A response some other one continues.
  std::string chained;
  for (const auto& t : truths)
    if (!t.previous.empty() && chained.empty())
      chained = t.previous;
  add(
      "chain", [&](auto& fl) { fl.previous_response_id = chained; },
      [&](const truth& t) { return !t.deleted && t.previous == chained; });
  add(
      "time window",
      [](auto& fl) {
        fl.created_after = 1'764'000'500;
        fl.created_before = 1'764'001'200;
      },
      [](const truth& t) {
        return !t.deleted && t.created_at >= 1'764'000'500 && t.created_at < 1'764'001'200;
      });
  add(
      "tokens",
      [](auto& fl) {
        fl.min_tokens = 300;
        fl.max_tokens = 500;
      },
      [](const truth& t) { return !t.deleted && t.tokens >= 300 && t.tokens <= 500; });
  add(
      "slow", [](auto& fl) { fl.min_duration_ms = 600; },
      [](const truth& t) {
        return !t.deleted && t.status != "in_progress" && t.status != "queued" &&
               t.duration_ms >= 600;
      });
  add(
      "first token",
      [](auto& fl) {
        fl.min_first_token_ms = 10;
        fl.max_first_token_ms = 20;
      },
      [](const truth& t) {
        return !t.deleted && t.first_token_ms >= 10 && t.first_token_ms <= 20 &&
               t.status != "in_progress" && t.status != "queued";
      });
  add(
      "tenant, status and window",
      [](auto& fl) {
        fl.tenant = "acme";
        fl.status = "completed";
        fl.created_before = 1'764'001'000;
      },
      [](const truth& t) {
        return !t.deleted && t.tenant == "acme" && t.status == "completed" &&
               t.created_at < 1'764'001'000;
      });

  cases.expect_as_scanned(index, truths);
}

BOOST_AUTO_TEST_CASE(a_conversation_row_says_what_its_events_and_responses_did) {
  feed f;
  std::vector<conversation_truth> conversations;
  auto truths = generate(f, 3000, 13, &conversations);
  auto index = fold(f);
  BOOST_TEST(index.conversations() == conversations.size());
  std::size_t deleted = 0;
  for (const auto& c : conversations) {
    const auto* row = index.find_conversation(c.id);
    BOOST_TEST_REQUIRE(row != nullptr);
    BOOST_TEST_CONTEXT(c.id) {
      BOOST_TEST(row->tenant == c.tenant);
      BOOST_TEST(row->created_at == c.created_at);
      BOOST_TEST(row->active_us == c.active_us);
      BOOST_TEST(row->items == c.items);
      BOOST_TEST(row->responses == c.responses);
      BOOST_TEST(row->last_response_id == c.last_response);
      BOOST_TEST(row->deleted == c.deleted);
    }
    deleted += c.deleted;
  }
  // The mix has what the filters are tested on.
  BOOST_TEST(conversations.size() > 50u);
  BOOST_TEST(deleted > 0u);
  auto json = rp::response_index::to_json(*index.find_conversation(conversations.front().id));
  BOOST_TEST(json["object"] == "conversation.index_entry");
  BOOST_TEST(json["last_active_at"] == conversations.front().active_us / 1'000'000);
  // A response on a conversation the index never saw created counts nowhere.
  feed g;
  g.add("resp_x", "acme", mix_t0,
        created("resp_x", "m", 1, "stream", {{"conversation", {{"id", "conv_unknown"}}}}));
  auto other = fold(g);
  BOOST_TEST(other.find_conversation("conv_unknown") == nullptr);
  BOOST_TEST(other.find("resp_x")->conversation == "conv_unknown");
}

BOOST_AUTO_TEST_CASE(every_conversation_filter_returns_exactly_what_a_scan_of_the_truth_returns) {
  feed f;
  std::vector<conversation_truth> conversations;
  generate(f, 4000, 17, &conversations);
  auto index = fold(f);
  filter_cases<rp::conversation_filter, conversation_truth> cases;
  auto add = [&](const char* name, auto set, std::function<bool(const conversation_truth&)> keep) {
    cases.add(name, set, std::move(keep));
  };
  const std::int64_t t0 = mix_t0 / 1'000'000;
  add(
      "everything", [](auto&) {}, [](const conversation_truth& c) { return !c.deleted; });
  add(
      "deleted too", [](auto& fl) { fl.include_deleted = true; },
      [](const conversation_truth&) { return true; });
  add(
      "tenant", [](auto& fl) { fl.tenant = "initech"; },
      [](const conversation_truth& c) { return !c.deleted && c.tenant == "initech"; });
  add(
      "created window",
      [&](auto& fl) {
        fl.created_after = 1'764'000'800;
        fl.created_before = 1'764'002'500;
      },
      [](const conversation_truth& c) {
        return !c.deleted && c.created_at >= 1'764'000'800 && c.created_at < 1'764'002'500;
      });
  add(
      "active lately", [&](auto& fl) { fl.active_after = t0 + 3000; },
      [&](const conversation_truth& c) {
        return !c.deleted && c.active_us / 1'000'000 >= t0 + 3000;
      });
  add(
      "quiet since",
      [&](auto& fl) {
        fl.active_before = t0 + 2000;
        fl.include_deleted = true;
      },
      [&](const conversation_truth& c) { return c.active_us / 1'000'000 < t0 + 2000; });
  add(
      "items",
      [](auto& fl) {
        fl.min_items = 4;
        fl.max_items = 9;
      },
      [](const conversation_truth& c) { return !c.deleted && c.items >= 4 && c.items <= 9; });
  add(
      "empty", [](auto& fl) { fl.max_items = 0; },
      [](const conversation_truth& c) { return !c.deleted && c.items == 0; });
  add(
      "busy, of one tenant",
      [](auto& fl) {
        fl.min_responses = 5;
        fl.tenant = "acme";
      },
      [](const conversation_truth& c) {
        return !c.deleted && c.responses >= 5 && c.tenant == "acme";
      });
  cases.expect_as_scanned(index, conversations);
  // A cursor must name a conversation the caller may see.
  rp::conversation_filter fl;
  fl.after = conversations.front().id;
  fl.tenant = conversations.front().tenant == "acme" ? "globex" : "acme";
  auto refused = index.query(fl);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().param == "after");
}

// What the append writer hands the index (each event's header, and a digest
// of the data of the events the fold reads) folds as the stored events do.
BOOST_AUTO_TEST_CASE(digests_fold_as_the_stored_events_do) {
  feed f;
  std::vector<conversation_truth> conversations;
  auto truths = generate(f, 2000, 23, &conversations);
  rp::response_index stored, digested;
  for (const auto& e : f.events) {
    stored.apply(e);
    auto tapped = e;
    tapped.data = rp::response_index::needs_data(e.type)
                      ? rp::response_index::digest(e.type, e.data)
                      : json();
    digested.apply(tapped);
  }
  BOOST_TEST(digested.size() == truths.size());
  BOOST_TEST(digested.conversations() == conversations.size());
  for (const auto& t : truths)
    BOOST_TEST(rp::response_index::to_json(*digested.find(t.id)) ==
               rp::response_index::to_json(*stored.find(t.id)));
  std::int64_t items = 0;
  for (const auto& c : conversations) {
    BOOST_TEST(rp::response_index::to_json(*digested.find_conversation(c.id)) ==
               rp::response_index::to_json(*stored.find_conversation(c.id)));
    items += digested.find_conversation(c.id)->items;
  }
  BOOST_TEST(items > 0);
}

BOOST_AUTO_TEST_CASE(a_cursor_must_name_a_row_the_caller_may_see) {
  feed f;
  generate(f, 50, 3);
  auto index = fold(f);
  rp::index_filter fl;
  fl.after = "resp_nope";
  auto unknown = index.query(fl);
  BOOST_TEST_REQUIRE(!unknown.has_value());
  BOOST_TEST(unknown.error().param == "after");
  // A row of another tenant is no cursor for this one.
  const auto* first = index.find("resp_1000");
  fl.after = first->id;
  fl.tenant = first->tenant == "acme" ? "globex" : "acme";
  BOOST_TEST(!index.query(fl).has_value());
  fl.tenant = first->tenant;
  BOOST_TEST(index.query(fl).has_value());
}

BOOST_AUTO_TEST_CASE(an_event_folded_twice_changes_nothing_and_other_streams_only_move_on) {
  feed f;
  generate(f, 200, 11);
  auto once = fold(f);
  rp::response_index twice;
  for (const auto& e : f.events)
    twice.apply(e);
  for (const auto& e : f.events)
    twice.apply(e);
  BOOST_TEST(twice.size() == once.size());
  for (std::size_t i = 0; i < 200; ++i) {
    auto id = "resp_" + std::to_string(1000 + i);
    BOOST_TEST(rp::response_index::to_json(*twice.find(id)) ==
               rp::response_index::to_json(*once.find(id)));
  }
}

BOOST_AUTO_TEST_CASE(segments_restore_the_index_and_the_feed_resumes_after_the_manifest) {
  feed f;
  std::vector<conversation_truth> conversations;
  auto truths = generate(f, 2500, 5, &conversations);
  // Persist part way (as a running riposte would), then keep folding: the
  // segments written later are newer than the manifest written with them.
  rp::response_index live;
  std::map<rp::segment_ref, std::string> stored;
  std::string manifest;
  auto half = f.events.size() / 2;
  for (std::size_t i = 0; i < f.events.size(); ++i) {
    live.apply(f.events[i]);
    if (i + 1 == half || i + 1 == half + 300) {
      for (auto& [n, payload] : live.take_dirty_segments())
        stored[n] = payload;
      if (i + 1 == half)
        manifest = live.manifest(); // the manifest of the later write is lost
    }
  }
  auto info = rp::response_index::read_manifest(manifest);
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->position == half);
  BOOST_TEST(info->conversation_segments == 1u);
  rp::response_index restored;
  for (std::size_t n = 0; n < info->segments; ++n)
    BOOST_TEST_REQUIRE(
        restored.load_segment(stored.at({rp::segment_kind::responses, n})).has_value());
  for (std::size_t n = 0; n < info->conversation_segments; ++n)
    BOOST_TEST_REQUIRE(restored
                           .load_segment(stored.at({rp::segment_kind::conversations, n}),
                                         rp::segment_kind::conversations)
                           .has_value());
  restored.set_position(info->position);
  for (const auto& e : f.events)
    if (e.global_position > restored.position())
      restored.apply(e);
  BOOST_TEST(restored.size() == live.size());
  BOOST_TEST(restored.position() == live.position());
  for (const auto& t : truths)
    BOOST_TEST(rp::response_index::to_json(*restored.find(t.id)) ==
               rp::response_index::to_json(*live.find(t.id)));
  BOOST_TEST(restored.conversations() == conversations.size());
  for (const auto& c : conversations)
    BOOST_TEST(rp::response_index::to_json(*restored.find_conversation(c.id)) ==
               rp::response_index::to_json(*live.find_conversation(c.id)));
  // Only what changed is written again: the last segments, then nothing.
  auto last = live.take_dirty_segments();
  BOOST_TEST(!last.empty());
  std::size_t response_segments = 0;
  for (const auto& [ref, payload] : last) {
    response_segments += ref.kind == rp::segment_kind::responses;
    // Written by hand, as the library would write the same rows.
    BOOST_TEST(nlohmann::json::parse(payload).dump() == payload);
  }
  BOOST_TEST(response_segments < (live.size() + 1023) / 1024); // the first segment is settled
  BOOST_TEST(live.take_dirty_segments().empty());
}

BOOST_AUTO_TEST_CASE(a_manifest_or_segment_this_build_did_not_write_is_refused) {
  BOOST_TEST(!rp::response_index::read_manifest("{}").has_value());
  BOOST_TEST(!rp::response_index::read_manifest("not json").has_value());
  BOOST_TEST(!rp::response_index::read_manifest(
                  R"({"format":3,"position":1,"segments":1,"conversation_segments":0})")
                  .has_value());
  // Format 1 knew no conversations: its index is folded again.
  BOOST_TEST(
      !rp::response_index::read_manifest(R"({"format":1,"position":1,"segments":1})").has_value());
  BOOST_TEST(rp::response_index::read_manifest(
                 R"({"format":2,"position":1,"segments":1,"conversation_segments":0})")
                 .has_value());
  rp::response_index index;
  BOOST_TEST(!index.load_segment(R"({"format":1,"rows":[["resp_1"]]})").has_value());
  BOOST_TEST(!index.load_segment(R"({"format":1,"rows":{}})").has_value());
  // A response's row is no conversation's.
  BOOST_TEST(!index
                  .load_segment(R"({"format":2,"rows":[["resp_1","acme","m","stream","completed",)"
                                R"(1,1,2,0,"","",-1,-1,"","",false,3,1]]})",
                                rp::segment_kind::conversations)
                  .has_value());
  BOOST_TEST(index.size() == 0u);
  BOOST_TEST(index.conversations() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
