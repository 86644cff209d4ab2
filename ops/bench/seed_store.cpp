// Fills a store with N finished responses, written the way riposte writes
// them (the same events, one append per response), for the cold-start
// benchmark. Prints the ids of the first and the last response.
//   seed_store STORE_URI N
#include "adapters/store/store.hpp"
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <string>

namespace store = riposte::adapters::store;
namespace ev = riposte::events;
using json = nlohmann::json;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: seed_store STORE_URI N\n";
    return 2;
  }
  store::store_options opts;
  opts.uri = argv[1];
  opts.sync = store::sync_policy::none;
  auto log = store::open_store(opts);
  if (!log) {
    std::cerr << log.error().message << '\n';
    return 1;
  }
  long n = std::stol(argv[2]);
  json params{{"store", true}, {"background", false}, {"temperature", 1.0}, {"top_p", 1.0},
              {"tool_choice", "auto"}, {"tools", json::array()}, {"metadata", json::object()}};
  std::string first, last;
  for (long i = 0; i < n; ++i) {
    char id[64];
    std::snprintf(id, sizeof id, "resp_seed%039ld", i);
    std::string msg = "msg_seed" + std::to_string(i);
    json input = json::array({{{"type", "message"},
                               {"id", "msg_in" + std::to_string(i)},
                               {"role", "user"},
                               {"status", "completed"},
                               {"content", {{{"type", "input_text"}, {"text", "hello"}}}}}});
    json part{{"type", "output_text"}, {"text", "hi"}, {"annotations", json::array()},
              {"logprobs", json::array()}};
    json item{{"id", msg}, {"type", "message"}, {"status", "completed"}, {"role", "assistant"},
              {"content", json::array({part})}};
    json usage{{"input_tokens", 1}, {"input_tokens_details", {{"cached_tokens", 0}}},
               {"output_tokens", 1}, {"output_tokens_details", {{"reasoning_tokens", 0}}},
               {"total_tokens", 2}};
    std::vector<ev::event> evs{
        ev::response_created{id, "bench", 1764000000, params, input, "blocking"},
        ev::response_in_progress{},
        ev::output_item_added{0,
                              {{"id", msg},
                               {"type", "message"},
                               {"status", "in_progress"},
                               {"role", "assistant"},
                               {"content", json::array()}}},
        ev::content_part_added{msg,
                               0,
                               0,
                               {{"type", "output_text"},
                                {"text", ""},
                                {"annotations", json::array()},
                                {"logprobs", json::array()}}},
        ev::output_text_delta{msg, 0, 0, "hi", json::array()},
        ev::output_text_done{msg, 0, 0, "hi"},
        ev::content_part_done{msg, 0, 0, part},
        ev::output_item_done{0, item},
        ev::response_completed{1764000001, usage}};
    std::vector<ev::new_event> batch;
    for (const auto& e : evs)
      batch.push_back(ev::make_new_event(e, "local", 1764000000000000 + i));
    if (auto r = (*log)->append(id, ev::no_stream, batch); !r) {
      std::cerr << r.error().message << '\n';
      return 1;
    }
    if (i == 0)
      first = id;
    last = id;
  }
  std::cout << first << ' ' << last << '\n';
  return 0;
}
