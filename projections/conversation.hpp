// A conversation as its events tell it (stream `conv_<id>`): a pure fold,
// and the pages of its items that GET .../items serves.
#pragma once

#include "events/envelope.hpp"
#include "events/errc.hpp"
#include "events/event.hpp"
#include "events/event_log.hpp"
#include "projections/input_items.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace riposte::projections {

struct conversation_state {
  std::string id;
  std::string tenant;
  std::int64_t created_at = 0;
  nlohmann::json metadata = nlohmann::json::object();
  // The items it holds now, oldest first (deleted ones are gone).
  nlohmann::json items = nlohmann::json::array();
  bool deleted = false;
  // The response whose turn holds it, and the replica lease it was taken
  // under (stores that replicas share write the lock into the stream;
  // empty: none holds it).
  std::string turn_response;
  std::string turn_holder;
  std::int64_t version = events::no_stream; // the last event folded in
  // The version of the newest snapshot of it known to be stored (the one
  // the fold began from, or a later one its owner wrote): no_stream if none.
  std::int64_t snapshot_version = events::no_stream;
  bool exists() const { return !id.empty(); }
};

// How many events a conversation's owner lets pass before it stores a new
// snapshot: a cold read folds at most this many events after one.
inline constexpr std::int64_t snapshot_every = 32;

// The state after one more event of the stream. A foreign event (a response's
// event in a conversation stream) is corrupt_event.
events::result<conversation_state> apply(conversation_state state, const events::envelope& env);

// `state` with the events stored after its version folded in (another
// replica's appends), each shown to `seen` once folded; not_found if the
// stream holds none and state none.
events::result<conversation_state>
catch_up(events::event_log& log, const std::string& id, conversation_state state,
         const std::function<void(const events::envelope&)>& seen = {});

// The stream folded, from its latest snapshot when one is stored (a
// snapshot that does not parse is ignored: the fold starts over), else from
// its first event (not_found: no such stream).
events::result<conversation_state> read_conversation(events::event_log& log, const std::string& id);

// The state as a snapshot's payload, and back (nullopt: not one of ours).
std::string to_conversation_snapshot(const conversation_state& c);
std::optional<conversation_state> conversation_from_snapshot(const events::snapshot& snap);

// The items a conversation held when `response_id`'s turn began: those
// before the batch the turn appended (all of them if it appended none).
events::result<nlohmann::json> items_before_turn(events::event_log& log, const std::string& id,
                                                 const std::string& response_id);

// The item with `item_id`, or null.
const nlohmann::json* find_item(const conversation_state& c, const std::string& item_id);

// The wire objects: {id, object: "conversation", created_at, metadata}.
nlohmann::json conversation_object(const conversation_state& c);

// A page of its items in the order asked; an `after` it does not hold is the
// API's 404 "No item found with id '…'" on `after`.
events::result<items_page> page_conversation_items(const conversation_state& c,
                                                   const items_query& q);

} // namespace riposte::projections
