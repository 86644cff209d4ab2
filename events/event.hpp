// Every event type riposte stores, as one variant, and the codec between the
// typed events and the stored envelope (with upcasting of older versions).
#pragma once

#include "events/conversation_events.hpp"
#include "events/envelope.hpp"
#include "events/errc.hpp"
#include "events/file_events.hpp"
#include "events/prompt_events.hpp"
#include "events/response_events.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace riposte::events {

using event =
    std::variant<response_created, response_queued, response_in_progress, output_item_added,
                 output_item_done, content_part_added, content_part_done, output_text_delta,
                 output_text_done, function_call_arguments_delta, function_call_arguments_done,
                 custom_tool_call_input_delta, custom_tool_call_input_done, reasoning_delta,
                 reasoning_done, response_completed, response_incomplete, response_failed,
                 response_cancelled, response_deleted, file_uploaded, file_deleted,
                 idempotency_key_recorded, prompt_version_created, prompt_deleted,
                 hosted_tool_progressed, conversation_created, conversation_items_added,
                 conversation_item_deleted, conversation_updated, conversation_deleted,
                 conversation_turn_began, conversation_turn_ended>;

std::string_view type_of(const event& ev);
int version_of(const event& ev);

// The `data` of an event at its current version.
nlohmann::json data_of(const event& ev);

// An event's data as JSON text, the bytes dump_json(data_of(ev)) gives,
// written without building a json tree: every event a response streams, from
// its in_progress to its last item's done. nullopt for the events the index
// folds (response_created, the ends, conversation and file events), whose
// tree the writer's index tap digests, and for those riposte writes rarely.
std::optional<std::string> text_of(const event& ev);

// An event ready for event_log::append.
new_event make_new_event(const event& ev, std::string tenant, std::int64_t recorded_at);

// Decodes (type, version, data): older versions are upcast first. An unknown
// type, a version newer than this build knows, or data that does not fit the
// type is an error value, never an exception.
result<event> decode(std::string_view type, int version, const nlohmann::json& data);
result<event> decode(const envelope& env);

// Checks that a new event would decode; the logs call it before appending.
status validate(const new_event& ev);

// Every type string this build knows, with its current version.
struct type_info {
  std::string_view type;
  int version;
};
const std::vector<type_info>& known_types();

// Upcasts `data` from `version` to the type's current version (the chain of
// vN -> vN+1 steps). Returns the new version through `version`.
result<nlohmann::json> upcast(std::string_view type, int& version, nlohmann::json data);

// The stored form of an envelope (one JSON object) and back.
std::string serialize(const envelope& env);
// The same, with `data` given apart (the envelope's own is ignored).
std::string serialize(const envelope& env, const nlohmann::json& data);
// With the data already JSON text (data_text of a new event).
std::string serialize_text(const envelope& env, std::string_view data_text);
result<envelope> parse_envelope(std::string_view bytes);
// The same with `data` left null, never built: for readers that need an
// event's header only (its type, stream, seq, position, time).
result<envelope> parse_envelope_header(std::string_view bytes);

} // namespace riposte::events
