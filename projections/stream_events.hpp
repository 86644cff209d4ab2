// The client-visible stream event of a stored event: the SSE `data` object,
// with `sequence_number` = the event's seq. Lifecycle events carry the whole
// Response as it stood right after the event, so a stream replayed from the
// log renders exactly as it did live.
#pragma once

#include "events/event.hpp"
#include "projections/response_view.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace riposte::projections {

// A stream event rendered once, for every subscriber: its type, seq and JSON
// text. A delta event also says how long its delta is, so an SSE session can
// pad it (obfuscation) without parsing the text back.
struct stream_frame {
  std::string type;
  std::int64_t seq = 0;
  std::string data;
  std::optional<std::size_t> delta_size;
};

// The frame of a JSON stream event (one that does not come from the log,
// such as a test's).
stream_frame to_frame(const nlohmann::json& event);

// std::nullopt for events that are not part of the stream (e.g. a deletion).
std::optional<nlohmann::json> stream_event(const response_state& after, const events::event& ev,
                                           std::int64_t seq);

// stream_event as a frame. Text, reasoning and argument deltas, most of any
// stream, are written straight to text: the same bytes as the JSON's dump.
std::optional<stream_frame> render_frame(const response_state& after, const events::event& ev,
                                         std::int64_t seq);
// The same, given the event's data as the log's text (events::text_of, as
// make_new_event wrote it): a delta's frame is that text with its sequence
// number and type added, not written a second time.
std::optional<stream_frame> render_frame(const response_state& after, const events::event& ev,
                                         std::int64_t seq, std::string_view text);

// Folds a response's whole stream and renders the events after `after_seq`
// (-1: all of them). An undecodable event is an error.
events::result<std::vector<stream_frame>> replay_stream(const std::vector<events::envelope>& stream,
                                                        std::int64_t after_seq);

} // namespace riposte::projections
