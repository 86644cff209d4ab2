// The client-visible stream event of a stored event: the SSE `data` object,
// with `sequence_number` = the event's seq. Lifecycle events carry the whole
// Response as it stood right after the event, so a stream replayed from the
// log renders exactly as it did live.
#pragma once

#include "events/event.hpp"
#include "projections/response_view.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace riposte::projections {

// std::nullopt for events that are not part of the stream (e.g. a deletion).
std::optional<nlohmann::json> stream_event(const response_state& after, const events::event& ev,
                                           std::int64_t seq);

// Folds a response's whole stream and renders the events after `after_seq`
// (-1: all of them). An undecodable event is an error.
events::result<std::vector<nlohmann::json>>
replay_stream(const std::vector<events::envelope>& stream, std::int64_t after_seq);

} // namespace riposte::projections
