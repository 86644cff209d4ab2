// A mix of stored responses and conversations for tests of what folds the
// feed (the operator's index): tenants, models, modes and outcomes at random
// from a seed, with the truth of each as the generator decided it.
#pragma once

#include "events/conversation_events.hpp"
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace riposte::tests {

namespace events = riposte::events;

inline constexpr std::int64_t mix_t0 = 1'764'000'000'000'000; // µs

// What the generator decided for one response: the truth filters are held to.
struct truth {
  std::string id, tenant, model, mode, status, error_code, conversation, previous;
  std::int64_t created_at = 0;
  std::int64_t duration_ms = 0, first_token_ms = -1, tokens = -1;
  bool deleted = false;
};

struct conversation_truth {
  std::string id, tenant;
  std::int64_t created_at = 0; // seconds
  std::int64_t active_us = 0;  // its latest event, or its latest response's creation
  std::int64_t items = 0, responses = 0;
  std::string last_response;
  bool deleted = false;
};

inline events::response_created created(const std::string& id, const std::string& model,
                                        std::int64_t created_at, const std::string& mode,
                                        nlohmann::json params = nlohmann::json::object()) {
  if (mode == "background")
    params["background"] = true;
  return events::response_created{id, model, created_at, params, nlohmann::json::array(), mode};
}

inline nlohmann::json usage(std::int64_t in, std::int64_t out) {
  return {{"input_tokens", in}, {"output_tokens", out}, {"total_tokens", in + out}};
}

inline events::output_text_delta delta(const std::string& text) {
  events::output_text_delta d;
  d.item_id = "msg_1";
  d.delta = text;
  return d;
}

// Receives each event of the mix, in feed order.
using emit_fn = std::function<void(const std::string& stream, const std::string& tenant,
                                   std::int64_t at_us, const events::event&)>;

// n responses across tenants, models and outcomes, their events interleaved
// in the feed as concurrent work interleaves them, plus events of other
// streams (files) between them; numbered from `first` (ids resp_<1000 +
// i>, created a second apart). A quarter run on conversations of their
// tenant (ids conv_<1000 + i>, each tenant holding two or so at a time),
// which also gain and lose items through the API and are deleted now and
// then; their truth goes to `conversations` if given.
inline std::vector<truth>
mixed_responses(std::size_t n, std::uint32_t seed, const emit_fn& emit, std::size_t first = 0,
                std::vector<conversation_truth>* conversations = nullptr) {
  std::mt19937 rng{seed};
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  const char* tenants[] = {"acme", "globex", "initech"};
  const char* models[] = {"llama3.2:1b", "qwen3:8b"};
  const char* modes[] = {"blocking", "stream", "background"};
  std::vector<truth> out;
  std::vector<conversation_truth> convs;
  std::map<std::string, std::vector<std::size_t>> live; // a tenant's conversations not deleted
  auto conv_of = [&](const std::string& id) -> conversation_truth& {
    return *std::find_if(convs.begin(), convs.end(), [&](const auto& c) { return c.id == id; });
  };
  auto add_items = [&](conversation_truth& c, std::int64_t at, std::size_t count,
                       const std::string& response) {
    nlohmann::json items = nlohmann::json::array();
    for (std::size_t k = 0; k < count; ++k)
      items.push_back({{"id", "msg_" + std::to_string(c.items + static_cast<std::int64_t>(k))},
                       {"type", "message"},
                       {"role", "user"},
                       {"content", nlohmann::json::array()}});
    emit(c.id, c.tenant, at, events::conversation_items_added{items, response});
    c.items += static_cast<std::int64_t>(count);
    c.active_us = std::max(c.active_us, at);
  };
  // Pending ends: (id, what is left to append) applied later, out of order.
  std::vector<std::size_t> open;
  for (std::size_t i = first; i < first + n; ++i) {
    truth t;
    t.id = "resp_" + std::to_string(1000 + i);
    t.tenant = tenants[pick(3)];
    t.model = models[pick(2)];
    t.mode = modes[pick(3)];
    t.created_at = 1'764'000'000 + static_cast<std::int64_t>(i);
    nlohmann::json params = nlohmann::json::object();
    auto at = mix_t0 + static_cast<std::int64_t>(i) * 1'000'000;
    auto& mine = live[t.tenant];
    if (pick(4) == 0) {
      if (mine.size() < 2 || pick(4) == 0) {
        conversation_truth c;
        c.id = "conv_" + std::to_string(1000 + i);
        c.tenant = t.tenant;
        c.created_at = t.created_at;
        c.active_us = at;
        emit(c.id, c.tenant, at,
             events::conversation_created{c.id, {{"topic", "<b>x</b>"}}, c.created_at});
        mine.push_back(convs.size());
        convs.push_back(std::move(c));
      }
      auto& c = convs[mine[pick(mine.size())]];
      ++c.responses;
      c.last_response = t.id;
      c.active_us = std::max(c.active_us, at);
      t.conversation = c.id;
      params["conversation"] = {{"id", t.conversation}};
    } else if (i > first && pick(3) == 0) { // a chain: continues one of the last few
      t.previous =
          "resp_" + std::to_string(1000 + i - 1 - pick(std::min<std::size_t>(i - first, 4)));
      params["previous_response_id"] = t.previous;
    }
    emit(t.id, t.tenant, at, created(t.id, t.model, t.created_at, t.mode, params));
    // The API's own changes to one of the tenant's conversations.
    if (!mine.empty() && pick(6) == 0) {
      auto slot = pick(mine.size());
      auto& c = convs[mine[slot]];
      auto when = at + 100;
      switch (pick(4)) {
        case 0:
        case 1: add_items(c, when, 1 + pick(3), ""); break;
        case 2:
          if (c.items > 0) {
            emit(c.id, c.tenant, when, events::conversation_item_deleted{"msg_0"});
            --c.items;
            c.active_us = std::max(c.active_us, when);
          }
          break;
        default:
          emit(c.id, c.tenant, when, events::conversation_deleted{});
          c.deleted = true;
          c.active_us = std::max(c.active_us, when);
          mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(slot));
      }
    }
    out.push_back(t);
    open.push_back(out.size() - 1);
    if (pick(7) == 0)
      emit("file-" + std::to_string(i), t.tenant, at, events::file_deleted{"file-x"});
    // Finish one of the open responses at random (not always the newest).
    while (open.size() > 3 || (!open.empty() && pick(2) == 0)) {
      auto slot = pick(open.size());
      auto& r = out[open[slot]];
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(slot));
      auto start = mix_t0 + (r.created_at - 1'764'000'000) * 1'000'000;
      if (r.mode == "background")
        emit(r.id, r.tenant, start + 10, events::response_in_progress{});
      auto outcome = pick(5);
      if (outcome != 3) { // a cancelled one never produced a token here
        r.first_token_ms = static_cast<std::int64_t>(1 + pick(50));
        emit(r.id, r.tenant, start + r.first_token_ms * 1000, delta("a"));
        emit(r.id, r.tenant, start + r.first_token_ms * 1000 + 5, delta("b"));
      }
      r.duration_ms = r.first_token_ms + static_cast<std::int64_t>(1 + pick(900));
      auto end = start + r.duration_ms * 1000;
      auto in = static_cast<std::int64_t>(pick(400)), outt = static_cast<std::int64_t>(pick(400));
      switch (outcome) {
        case 0:
        case 1:
          r.status = "completed";
          r.tokens = in + outt;
          emit(r.id, r.tenant, end, events::response_completed{1, usage(in, outt)});
          // Its turn adds its input and output to its conversation.
          if (!r.conversation.empty() && !conv_of(r.conversation).deleted)
            add_items(conv_of(r.conversation), end, 2, r.id);
          break;
        case 2:
          r.status = "failed";
          r.error_code = pick(2) ? "backend_timeout" : "backend_unavailable";
          emit(r.id, r.tenant, end,
               events::response_failed{r.error_code == "backend_timeout"
                                           ? events::failure_code::backend_timeout
                                           : events::failure_code::backend_unavailable,
                                       "<script>alert(1)</script>", nlohmann::json()});
          break;
        case 3:
          r.status = "cancelled";
          emit(r.id, r.tenant, end, events::response_cancelled{"client_cancelled"});
          break;
        default:
          r.status = "incomplete";
          r.tokens = in + outt;
          emit(r.id, r.tenant, end,
               events::response_incomplete{"max_output_tokens", usage(in, outt)});
      }
      if (pick(10) == 0) {
        r.deleted = true;
        emit(r.id, r.tenant, end + 7, events::response_deleted{});
      }
    }
  }
  // What is still open runs on: in progress (or queued in the background).
  for (auto i : open)
    out[i].status = out[i].mode == "background" ? "queued" : "in_progress";
  if (conversations)
    *conversations = std::move(convs);
  return out;
}

} // namespace riposte::tests
