// The Response object as a pure fold over a response's events, and the
// conversation context a follow-up (`previous_response_id`) continues from.
#pragma once

#include "events/envelope.hpp"
#include "events/event.hpp"
#include "events/event_log.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace riposte::projections {

struct response_state {
  std::string id;
  std::string tenant;
  std::string model;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> completed_at;
  nlohmann::json params = nlohmann::json::object(); // normalized request parameters
  nlohmann::json input = nlohmann::json::array();   // input items with ids
  std::string status;                               // empty until created
  nlohmann::json output = nlohmann::json::array();
  nlohmann::json usage;              // null until reported
  nlohmann::json error;              // {code, message} or null
  std::optional<events::failure_code> failure; // set when failed: error.code, typed
  nlohmann::json incomplete_details; // {reason} or null
  bool deleted = false;
  std::int64_t version = -1; // seq of the last event applied

  bool exists() const { return !status.empty(); }
  bool terminal() const {
    return status == "completed" || status == "incomplete" || status == "failed" ||
           status == "cancelled";
  }
};

// One case per event type; events of other families leave the state as is.
response_state apply(response_state state, const events::event& ev, std::int64_t seq,
                     const std::string& tenant);
// The same on a state in place (an actor's view takes one event per token).
void apply_in_place(response_state& state, const events::event& ev, std::int64_t seq,
                    const std::string& tenant);
// The same, taking the event's data instead of copying it (the event is
// left valid but emptied).
void apply_in_place(response_state& state, events::event&& ev, std::int64_t seq,
                    const std::string& tenant);
// Decodes and applies a stored envelope; an undecodable event is an error.
events::result<response_state> apply(response_state state, const events::envelope& env);

// The status a stored event of this type ends a response with ("completed",
// "incomplete", "failed", "cancelled"), or "" for any other type.
std::string_view ending_status(std::string_view type);

// The request parameters a Response echoes, each with the API's default: the
// one table both validation (http/, filling what the client left out) and
// render() read.
const nlohmann::json& response_defaults();

// The sampling fields among them: the backend gets only those the client
// set (the rest stay the model's own), the Response echoes them all.
const std::vector<std::string>& sampling_fields();

// The Response object of the OpenAI API.
nlohmann::json render(const response_state& state);
// The same object as JSON text, the bytes events::dump_json(render(state))
// writes, without building the object first (a blocking create's answer).
std::string render_text(const response_state& state);

// The state <-> snapshot payload (a cache of the fold).
std::string to_snapshot(const response_state& state);
events::result<response_state> from_snapshot(const std::string& payload);

// A stored response as its log says: the snapshot, then the events after it
// (blocking: store threads only). One that was never stored is a state that
// does not exist().
events::result<response_state> read_response(events::event_log& log, const std::string& id);

// What this response adds to a conversation: its input items, then its output.
nlohmann::json own_items(const response_state& state);

} // namespace riposte::projections
