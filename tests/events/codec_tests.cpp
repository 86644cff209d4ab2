// Events: the codec round-trips every type, old versions upcast, and every
// golden file of every historical version keeps decoding.
#define BOOST_TEST_MODULE events
#include "events/event.hpp"
#include "events/ids.hpp"
#include "events/json_safe.hpp"
#include "events/json_text.hpp"
#include "tests/support/awkward_text.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>

namespace ev = riposte::events;
using ev::riposte_errc;

namespace {

std::filesystem::path golden_dir() {
  const char* dir = std::getenv("RIPOSTE_GOLDEN_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr, "RIPOSTE_GOLDEN_DIR is not set");
  return dir;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

// A random JSON value: every type, strings with escapes, multi-byte and
// malformed UTF-8 (in keys too), numbers at their edges.
nlohmann::json random_json(std::mt19937_64& rng, int depth) {
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  auto text = [&] {
    const auto& pieces = riposte::tests::awkward_text();
    std::string s;
    for (auto n = pick(6); n > 0; --n)
      s += pieces[pick(pieces.size())];
    return s;
  };
  switch (depth > 3 ? pick(7) : pick(9)) {
    case 0: return nullptr;
    case 1: return pick(2) == 0;
    case 2: {
      static const std::int64_t edges[] = {0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max()};
      return pick(2) == 0 ? edges[pick(5)] : static_cast<std::int64_t>(rng());
    }
    case 3: return pick(2) == 0 ? std::numeric_limits<std::uint64_t>::max() : rng();
    case 4: {
      static const double edges[] = {0.0,
                                     -0.0,
                                     1.0,
                                     0.1,
                                     -3.5e-7,
                                     1e21,
                                     1e-300,
                                     123456789.125,
                                     std::numeric_limits<double>::max(),
                                     std::numeric_limits<double>::denorm_min(),
                                     std::nan(""),
                                     std::numeric_limits<double>::infinity()};
      if (pick(2) == 0)
        return edges[pick(std::size(edges))];
      double d = 0;
      auto bits = rng();
      std::memcpy(&d, &bits, sizeof d);
      return d;
    }
    case 5:
    case 6: return text();
    case 7: {
      auto a = nlohmann::json::array();
      for (auto n = pick(5); n > 0; --n)
        a.push_back(random_json(rng, depth + 1));
      return a;
    }
    default: {
      auto o = nlohmann::json::object();
      for (auto n = pick(5); n > 0; --n)
        o[text()] = random_json(rng, depth + 1);
      return o;
    }
  }
}

BOOST_AUTO_TEST_CASE(dump_json_writes_the_bytes_nlohmann_dump_writes) {
  std::mt19937_64 rng{20261205};
  for (int i = 0; i < 20000; ++i) {
    auto value = random_json(rng, 0);
    auto theirs = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto ours = ev::dump_json(value);
    BOOST_REQUIRE_MESSAGE(ours == theirs, "case " << i << ": " << theirs << " vs " << ours);
  }
  // Indented output is nlohmann's own.
  nlohmann::json nested = {{"a", {1, 2}}};
  BOOST_TEST(ev::dump_json(nested, 2) == nested.dump(2));
}

BOOST_AUTO_TEST_CASE(every_golden_event_of_every_version_decodes) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator{golden_dir()}) {
    auto env = ev::parse_envelope(slurp(entry.path()));
    BOOST_REQUIRE_MESSAGE(env.has_value(), entry.path().filename().string());
    auto decoded = ev::decode(*env);
    BOOST_TEST(decoded.has_value(), entry.path().filename().string()
                                        << ": " << (decoded ? "" : decoded.error().message));
    if (decoded) {
      BOOST_TEST(ev::type_of(*decoded) == env->type);
      // Re-encoding gives the upcast form of what was stored.
      int version = env->version;
      auto upcast = ev::upcast(env->type, version, env->data);
      BOOST_REQUIRE(upcast.has_value());
      BOOST_TEST(ev::data_of(*decoded) == *upcast, entry.path().filename().string());
    }
    ++files;
  }
  BOOST_TEST(files >= ev::known_types().size());
}

BOOST_AUTO_TEST_CASE(an_envelope_s_header_is_the_envelope_without_its_data) {
  for (const auto& entry : std::filesystem::directory_iterator{golden_dir()}) {
    auto bytes = slurp(entry.path());
    auto whole = ev::parse_envelope(bytes);
    auto header = ev::parse_envelope_header(bytes);
    BOOST_REQUIRE(whole.has_value());
    BOOST_REQUIRE_MESSAGE(header.has_value(), entry.path().filename().string());
    BOOST_TEST(header->data.is_null());
    whole->data = nullptr;
    BOOST_TEST((*header == *whole), entry.path().filename().string());
    // The same from what riposte writes today (data first, then the header).
    auto stored = ev::serialize(*ev::parse_envelope(bytes));
    auto again = ev::parse_envelope_header(stored);
    BOOST_REQUIRE(again.has_value());
    BOOST_TEST((*again == *whole));
  }
  // Data of any shape is skipped: scalars, arrays, deep nesting.
  for (const char* data : {"7", "\"x\"", "[1,[2,{\"a\":[]}]]", "{\"type\":\"other\"}", "null"}) {
    auto bytes = std::string{R"({"data":)"} + data +
                 R"(,"global_position":3,"recorded_at":4,"seq":1,"stream":"s","tenant":"t",)"
                 R"("type":"response_deleted","version":1})";
    auto header = ev::parse_envelope_header(bytes);
    BOOST_REQUIRE_MESSAGE(header.has_value(), data);
    BOOST_TEST(header->type == "response_deleted");
    BOOST_TEST(header->global_position == 3u);
    BOOST_TEST(header->data.is_null());
  }
  for (const char* broken : {"", "{", R"({"data":[1,2})", "[]", R"({"data":{}})"})
    BOOST_TEST(!ev::parse_envelope_header(broken).has_value(), broken);
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  BOOST_TEST(!ev::parse_envelope_header(R"({"data":)" + deep + "}").has_value());
}

BOOST_AUTO_TEST_CASE(every_current_event_type_has_a_golden_file) {
  for (const auto& info : ev::known_types()) {
    auto file =
        golden_dir() / (std::string{info.type} + ".v" + std::to_string(info.version) + ".json");
    BOOST_TEST(std::filesystem::exists(file), "missing golden file " << file.filename());
  }
}

BOOST_AUTO_TEST_CASE(type_strings_are_unique) {
  std::set<std::string_view> seen;
  for (const auto& info : ev::known_types())
    BOOST_TEST(seen.insert(info.type).second, info.type);
}

BOOST_AUTO_TEST_CASE(a_v1_text_delta_is_upcast_with_an_empty_logprobs_array) {
  nlohmann::json v1{
      {"item_id", "msg_1"}, {"output_index", 0}, {"content_index", 0}, {"delta", "Hi"}};
  auto decoded = ev::decode("output_text_delta", 1, v1);
  BOOST_REQUIRE(decoded.has_value());
  const auto& delta = std::get<ev::output_text_delta>(*decoded);
  BOOST_TEST(delta.delta == "Hi");
  BOOST_TEST(delta.logprobs == nlohmann::json::array());
}

BOOST_AUTO_TEST_CASE(an_event_round_trips_through_the_stored_envelope) {
  ev::event original =
      ev::function_call_arguments_done{"fc_1", 2, "exec_command", R"({"cmd":"ls"})"};
  auto ne = ev::make_new_event(original, "tenant_x", 1764000000000001);
  ev::envelope env{"resp_9",         4, 77, ne.type, ne.version, ne.tenant, ne.recorded_at,
                   ev::data_json(ne)};
  auto parsed = ev::parse_envelope(ev::serialize(env));
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed == env));
  auto decoded = ev::decode(*parsed);
  BOOST_REQUIRE(decoded.has_value());
  const auto& done = std::get<ev::function_call_arguments_done>(*decoded);
  BOOST_TEST(done.name == "exec_command");
  BOOST_TEST(done.arguments == R"({"cmd":"ls"})");
  BOOST_TEST(done.output_index == 2);
}

// The hand-written text of a delta (no json object per token) must be the
// bytes the library writes, or stored events would change shape.
BOOST_AUTO_TEST_CASE(a_delta_is_written_as_text_with_the_bytes_of_its_json) {
  const std::vector<std::string> texts{"",
                                       " tok5",
                                       "quote \" back \\ slash",
                                       "line\nfeed\ttab\r\b\f",
                                       std::string{"nul\0x", 5},
                                       "\x01\x1f\x7f",
                                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                       "</script>"};
  auto logprobs = nlohmann::json::array({{{"token", "a"}, {"logprob", -0.5}}});
  for (const auto& t : texts) {
    std::vector<ev::event> deltas{
        ev::output_text_delta{"msg_1", 3, 1, t}, ev::output_text_delta{"msg_1", 0, 0, t, logprobs},
        ev::reasoning_delta{"rs_\"1", 2, 0, t}, ev::function_call_arguments_delta{"fc_1", 4, t},
        ev::custom_tool_call_input_delta{"ctc_1", 5, t}};
    for (const auto& d : deltas) {
      auto ne = ev::make_new_event(d, "tenant_x", 7);
      BOOST_TEST(ne.data.is_null());
      BOOST_TEST(ne.text == ev::data_of(d).dump());
      BOOST_TEST((ev::data_json(ne) == ev::data_of(d)));
      auto decoded = ev::decode(ne.type, ne.version, ev::data_json(ne));
      BOOST_REQUIRE(decoded.has_value());
      BOOST_TEST((ev::data_of(*decoded) == ev::data_of(d)));
    }
  }
  // Other events keep their json object.
  auto done = ev::make_new_event(ev::response_cancelled{"client_disconnected"}, "t", 1);
  BOOST_TEST(done.text.empty());
  BOOST_TEST(ev::data_text(done) == done.data.dump());
}

// Every event a response streams is written as text too; its bytes must be
// the library's, whatever its strings and nested item hold.
BOOST_AUTO_TEST_CASE(every_streamed_event_is_written_as_text_with_the_bytes_of_its_json) {
  const std::vector<std::string> texts{"",
                                       "quote \" back \\ slash",
                                       "line\nfeed\ttab\r\b\f",
                                       std::string{"nul\0x", 5},
                                       "\x01\x1f\x7f",
                                       "caf\xc3\xa9 \xf0\x9f\x98\x80",
                                       "bad \xc3\x28 utf-8"};
  std::size_t as_text = 0;
  for (const auto& t : texts) {
    nlohmann::json item{
        {"id", "msg_" + t},
        {"type", "message"},
        {"status", "completed"},
        {"content", nlohmann::json::array({{{"type", "output_text"},
                                            {"text", t},
                                            {"annotations", nlohmann::json::array()},
                                            {"logprobs", {{"p", -0.25}}}}})}};
    nlohmann::json part{{"type", "output_text"}, {"text", t}, {"n", 1.5}};
    std::vector<ev::event> streamed{ev::response_queued{},
                                    ev::response_in_progress{},
                                    ev::output_item_added{0, item},
                                    ev::output_item_done{7, item},
                                    ev::output_item_done{1, nlohmann::json{}},
                                    ev::content_part_added{"msg_" + t, 0, 2, part},
                                    ev::content_part_done{"msg_1", 3, 0, nlohmann::json::array()},
                                    ev::output_text_done{"msg_1", 0, 0, t},
                                    ev::reasoning_done{t, 1, 4, t},
                                    ev::function_call_arguments_done{"fc_1", 2, t, t},
                                    ev::custom_tool_call_input_done{t, 9, t},
                                    ev::hosted_tool_progressed{"ws_1", 3, "web_search", t},
                                    ev::response_deleted{}};
    for (const auto& e : streamed) {
      auto ne = ev::make_new_event(e, "tenant_x", 7);
      BOOST_TEST(ne.data.is_null());
      BOOST_TEST(ne.text == ev::dump_json(ev::data_of(e)), ne.type);
      auto decoded = ev::decode(ne.type, ne.version, ev::data_json(ne));
      BOOST_REQUIRE(decoded.has_value());
      BOOST_TEST((ev::data_of(*decoded) == ev::data_json(ne)), ne.type);
      as_text += ne.text.empty() ? 0 : 1;
    }
  }
  BOOST_TEST(as_text == texts.size() * 13);
  // What the index folds stays a tree for its tap to digest.
  for (const ev::event& e :
       std::vector<ev::event>{ev::response_created{"resp_1", "m", 1, nlohmann::json::object(),
                                                   nlohmann::json::array(), "blocking"},
                              ev::response_completed{2, nlohmann::json{{"total_tokens", 3}}},
                              ev::response_incomplete{"max_output_tokens", nlohmann::json{}},
                              ev::conversation_created{"conv_1", nlohmann::json::object(), 5}})
    BOOST_TEST(!ev::text_of(e).has_value(), ev::type_of(e));
}

BOOST_AUTO_TEST_CASE(an_envelope_written_from_text_equals_the_one_from_json) {
  auto ne = ev::make_new_event(ev::output_text_delta{"msg_1", 0, 0, "h\u00e9llo\n"}, "t\"x", 9);
  ev::envelope env{"response-resp_1", 12, 345, ne.type, ne.version, ne.tenant, ne.recorded_at, {}};
  auto from_text = ev::serialize_text(env, ne.text);
  env.data = ev::data_json(ne);
  BOOST_TEST(from_text == ev::to_json(env).dump());
  BOOST_TEST(from_text == ev::serialize(env));
}

BOOST_AUTO_TEST_CASE(quoted_text_matches_the_library_on_every_byte) {
  namespace jt = ev::json_text;
  // Every single byte, and pairs around the escapes.
  for (int c = 0; c < 0x80; ++c) {
    std::string s(1, static_cast<char>(c));
    std::string out;
    jt::put_quoted(out, s);
    BOOST_TEST(out == nlohmann::json(s).dump(), "byte " << c);
    std::string pair = "a" + s + "b" + s;
    out.clear();
    jt::put_quoted(out, pair);
    BOOST_TEST(out == nlohmann::json(pair).dump(), "pair " << c);
  }
  // Strings of every length up to 80 from plain ASCII and the awkward
  // pieces (escapes, UTF-8 of 2 to 4 bytes, malformed bytes), at every
  // position of a word, as the library writes them.
  const auto& pieces = riposte::tests::awkward_text();
  std::mt19937 rng(7);
  for (int round = 0; round < 4000; ++round) {
    std::string s;
    auto length = rng() % 81;
    // Mostly plain text, as a Response is, with the rest here and there.
    while (s.size() < length)
      s += rng() % 4 != 0 ? std::string(1, static_cast<char>('a' + rng() % 26))
                          : pieces[rng() % pieces.size()];
    std::string out = "x";
    jt::put_quoted(out, s);
    auto expected =
        "x" + nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    BOOST_TEST(out == expected, "round " << round);
  }
  // Every byte at every position of every short length: the check reads a
  // short string as overlapping halves or as three of its bytes, and a
  // longer one's tail as a word overlapping the one before.
  for (std::size_t length = 1; length <= 17; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (int c = 0; c < 256; ++c) {
        std::string s(length, 'q');
        s[at] = static_cast<char>(c);
        std::string out;
        jt::put_quoted(out, s);
        auto expected =
            nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        BOOST_TEST(out == expected, "length " << length << " byte " << c << " at " << at);
      }
  // plain_run stops at the first byte a string cannot hold as is, or at
  // the first that is not ASCII, wherever it falls in a word.
  for (std::size_t length = 0; length <= 17; ++length)
    for (std::size_t at = 0; at <= length; ++at)
      for (int c = 0; c < 256; ++c) {
        std::string s(length, 'q');
        if (at < length)
          s[at] = static_cast<char>(c);
        bool stops = at < length && (c < 0x20 || c >= 0x80 || c == '"' || c == '\\');
        BOOST_TEST(jt::plain_run(s) == (stops ? at : length),
                   "length " << length << " byte " << c << " at " << at);
      }
  BOOST_TEST(jt::valid_utf8("caf\xc3\xa9"));
  BOOST_TEST(!jt::valid_utf8("\xc3"));
  BOOST_TEST(!jt::valid_utf8("\xed\xa0\x80")); // a surrogate
  BOOST_TEST(!jt::valid_utf8("\xc0\xaf"));     // overlong
}

// Keys are quoted as values are, between their comma and colon, whatever
// their length (a word at a time, or a padded tail) and bytes.
BOOST_AUTO_TEST_CASE(keys_and_members_match_the_library_on_every_byte) {
  namespace jt = ev::json_text;
  const auto& pieces = riposte::tests::awkward_text();
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    nlohmann::json object = nlohmann::json::object();
    std::string by_hand = "{";
    for (auto members = rng() % 5; object.size() < members;) {
      std::string key;
      for (auto length = rng() % 20; key.size() < length;)
        key += rng() % 3 != 0 ? std::string(1, static_cast<char>('a' + rng() % 26))
                              : pieces[rng() % pieces.size()];
      if (object.contains(key))
        continue;
      object[key] = nlohmann::json::object({{key, round}});
    }
    for (const auto& [key, value] : object.items()) {
      jt::put_name(by_hand, key);
      jt::put_json(by_hand, value);
    }
    by_hand += '}';
    auto expected = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string whole;
    jt::put_json(whole, object);
    BOOST_TEST(whole == expected, "round " << round);
    BOOST_TEST(by_hand == expected, "round " << round);
  }
}

BOOST_AUTO_TEST_CASE(undecodable_events_are_error_values) {
  auto unknown = ev::decode("response_exploded", 1, nlohmann::json::object());
  BOOST_REQUIRE(!unknown.has_value());
  BOOST_TEST((unknown.error().code == riposte_errc::unknown_event_type));

  auto wrong_type = ev::decode("output_text_delta", 2, {{"delta", 5}});
  BOOST_REQUIRE(!wrong_type.has_value());
  BOOST_TEST((wrong_type.error().code == riposte_errc::corrupt_event));

  auto not_object = ev::decode("response_cancelled", 1, "cancelled");
  BOOST_REQUIRE(!not_object.has_value());
  BOOST_TEST((not_object.error().code == riposte_errc::corrupt_event));

  auto future = ev::decode("response_cancelled", 7, {{"reason", "x"}});
  BOOST_REQUIRE(!future.has_value());
  BOOST_TEST((future.error().code == riposte_errc::corrupt_event));

  auto zero = ev::decode("response_cancelled", 0, {{"reason", "x"}});
  BOOST_TEST(!zero.has_value());

  for (
      const char* bytes :
      {"", "{", "[]", "null", R"({"stream":"s"})",
       R"({"stream":1,"seq":0,"global_position":1,"type":"t","version":1,"tenant":"","recorded_at":0,"data":{}})"}) {
    auto env = ev::parse_envelope(bytes);
    BOOST_TEST(!env.has_value(), "accepted: " << bytes);
    if (!env)
      BOOST_TEST((env.error().code == riposte_errc::corrupt_event));
  }
}

// Found by codec_fuzzer: a float where an integer belongs was converted with
// undefined behaviour (1.764e+22 into an int64).
BOOST_AUTO_TEST_CASE(a_float_where_an_integer_belongs_is_a_corrupt_event_not_undefined) {
  auto index = ev::decode("output_item_added", 1,
                          {{"output_index", 1.764e22}, {"item", nlohmann::json::object()}});
  BOOST_REQUIRE(!index.has_value());
  BOOST_TEST((index.error().code == riposte_errc::corrupt_event));
  auto small = ev::decode("output_item_added", 1,
                          {{"output_index", 1.5}, {"item", nlohmann::json::object()}});
  BOOST_TEST(!small.has_value());
  for (const char* bytes :
       {R"({"stream":"s","seq":0,"global_position":1,"type":"response_queued","version":1,"tenant":"","recorded_at":1.764e22,"data":{}})",
        R"({"stream":"s","seq":7.64e21,"global_position":1,"type":"response_queued","version":1,"tenant":"","recorded_at":0,"data":{}})",
        R"({"stream":"s","seq":0,"global_position":1,"type":"response_queued","version":1e83,"tenant":"","recorded_at":0,"data":{}})"}) {
    auto env = ev::parse_envelope(bytes);
    BOOST_TEST(!env.has_value(), "accepted: " << bytes);
  }
}

// Untrusted JSON: depth is bounded while parsing, nothing throws, and
// malformed UTF-8 is refused (in), replaced (out) or shown escaped (echo).
BOOST_AUTO_TEST_CASE(untrusted_json_is_parsed_under_a_depth_bound_without_throwing) {
  ev::json_failure why = ev::json_failure::none;
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  BOOST_TEST(ev::parse_json(deep, 64, &why).is_discarded());
  BOOST_TEST((why == ev::json_failure::too_deep));
  auto ok = std::string(64, '[') + std::string(64, ']');
  BOOST_TEST(!ev::parse_json(ok, 64, &why).is_discarded());
  BOOST_TEST(ev::parse_json("[" + std::string(64, '[') + std::string(65, ']'), 64, &why).is_discarded());
  BOOST_TEST((why == ev::json_failure::too_deep));
  BOOST_TEST(ev::parse_json("{\"a\":", 64, &why).is_discarded());
  BOOST_TEST((why == ev::json_failure::syntax));
  BOOST_TEST(ev::parse_json("\"\xff\"", 64, &why).is_discarded());
  BOOST_TEST(ev::parse_json("\"\xed\xa0\x80\"", 64, &why).is_discarded()); // a surrogate
  BOOST_TEST(ev::parse_json("\"\xc0\x80\"", 64, &why).is_discarded());     // overlong
  BOOST_TEST(ev::dump_json(nlohmann::json(std::string{"a\xff"})) == "\"a\xEF\xBF\xBD\"");
  BOOST_TEST(ev::scrub_utf8("x\xc0\x80y") == "x\xEF\xBF\xBD\xEF\xBF\xBDy");
  BOOST_TEST(ev::valid_utf8("\xe2\x82\xac"));
  BOOST_TEST(!ev::valid_utf8("\xe2\x82"));
  BOOST_TEST(ev::excerpt("k\xff\n") == "k\\xff\\x0a");
  BOOST_TEST(ev::excerpt(std::string(1000, 'x'), 8) == "xxxxxxxx\xE2\x80\xA6");
}

// A long id starts with the time and a counter, then 128 random bits: ids
// made later sort later (the store appends at the end of its key space),
// and no two are alike. A short one is random throughout.
BOOST_AUTO_TEST_CASE(ids_made_later_sort_later_and_never_repeat) {
  auto before = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::vector<std::string> ids;
  for (int i = 0; i < 20000; ++i)
    ids.push_back(ev::make_id("resp_"));
  auto after = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  for (const auto& id : ids) {
    BOOST_REQUIRE_EQUAL(id.size(), 5u + 48u);
    BOOST_REQUIRE(id.starts_with("resp_"));
    BOOST_REQUIRE(id.find_first_not_of("0123456789abcdef", 5) == std::string::npos);
    auto secs = std::stoll(id.substr(5, 8), nullptr, 16);
    BOOST_REQUIRE(secs >= before && secs <= after);
  }
  BOOST_TEST(std::is_sorted(ids.begin(), ids.end()));
  BOOST_TEST(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  // The random part alone differs between ids made in the same instant.
  std::set<std::string> tails;
  for (const auto& id : ids)
    tails.insert(id.substr(5 + 16));
  BOOST_TEST(tails.size() == ids.size());
  // Each random digit takes every value: none is left as filler.
  for (std::size_t at = 5 + 16; at < 5 + 48; ++at) {
    std::set<char> seen;
    for (const auto& id : ids)
      seen.insert(id[at]);
    BOOST_TEST(seen.size() == 16u, "digit " << at);
  }
  auto file = ev::make_id("file-", 24);
  BOOST_TEST(file.size() == 5u + 24u);
  BOOST_TEST(file.find_first_not_of("0123456789abcdef", 5) == std::string::npos);
  std::set<std::string> files;
  for (int i = 0; i < 1000; ++i)
    files.insert(ev::make_id("file-", 24).substr(5 + 20));
  BOOST_TEST(files.size() > 900u); // its last 4 digits: from the second draw
  BOOST_TEST(ev::make_id("x_", 0) == "x_");
}
