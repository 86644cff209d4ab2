// Fuzz target: /v1/conversations bodies and list queries through validation
// (the first byte picks which), and what is stored of a valid one (the
// conversation's events) through the codec, the fold, its snapshot and a
// page of items; and any bytes as a stored snapshot. Nothing may throw,
// crash or recurse without bound.
#include "events/event.hpp"
#include "events/json_safe.hpp"
#include "http/validate.hpp"
#include "projections/conversation.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace ev = riposte::events;
namespace pj = riposte::projections;

// Stores `e` as the log would and folds it in; what riposte stores must read
// back.
void fold(pj::conversation_state& state, const ev::event& e, std::uint64_t seq) {
  auto stored = ev::make_new_event(e, "tenant", 0);
  auto text = ev::data_text(stored);
  auto back = ev::parse_stored(text);
  if (back.is_discarded() || !ev::decode(stored.type, stored.version, back))
    __builtin_trap();
  ev::envelope env;
  env.stream = "conv_fuzz";
  env.seq = seq;
  env.type = stored.type;
  env.version = stored.version;
  env.tenant = "tenant";
  env.data = std::move(back);
  auto next = pj::apply(std::move(state), env);
  if (!next)
    __builtin_trap();
  state = std::move(*next);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 5) {
    case 0: {
      auto op = riposte::http::parse_conversation_create(rest);
      if (!op)
        return 0;
      pj::conversation_state state;
      fold(state, ev::conversation_created{"conv_fuzz", op->metadata, 0}, 0);
      fold(state, ev::conversation_items_added{op->items, ""}, 1);
      pj::items_query q;
      q.ascending = true;
      q.after = state.items.empty() ? "" : state.items.front().value("id", "");
      (void)pj::page_conversation_items(state, q);
      // Its snapshot gives it back.
      auto version = static_cast<std::uint64_t>(state.version);
      auto back = pj::conversation_from_snapshot({version, pj::to_conversation_snapshot(state)});
      if (!back || back->items != state.items || back->metadata != state.metadata)
        __builtin_trap();
      if (!state.items.empty())
        fold(state, ev::conversation_item_deleted{state.items.front().value("id", "")}, 2);
      // A turn's lock, as replicas write it, survives a snapshot.
      fold(state, ev::conversation_turn_began{std::string{rest.substr(0, 40)}, "a/1"}, 3);
      auto held = pj::conversation_from_snapshot({3, pj::to_conversation_snapshot(state)});
      if (!held || held->turn_response != state.turn_response)
        __builtin_trap();
      return 0;
    }
    case 1: (void)riposte::http::parse_conversation_update(rest); return 0;
    case 2: (void)riposte::http::parse_conversation_items(rest); return 0;
    case 3:
      (void)riposte::http::parse_conversation_items_query(std::string{rest});
      (void)riposte::http::check_include_query(std::string{rest});
      return 0;
    default: (void)pj::conversation_from_snapshot({0, std::string{rest}}); return 0;
  }
}
