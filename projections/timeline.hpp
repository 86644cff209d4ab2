// A stream's timeline, for people (`riposte replay ID --timeline`, and the
// operator console): each event with its offset from the stream's first,
// runs of deltas collapsed into one row, failures flagged, and the totals an
// operator asks first (duration, time to first token, gaps between tokens,
// tool calls, usage). A pure fold over stored envelopes.
#pragma once

#include "events/envelope.hpp"
#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace riposte::projections {

struct timeline_row {
  std::int64_t at_us = 0;    // its first event's offset from the stream's first event
  std::int64_t until_us = 0; // its last event's (a run of deltas spans several)
  std::string type;          // the stored event type
  std::size_t count = 1;     // events in the row: a run of deltas of one item is one row
  std::string detail;        // ids, names, an excerpt of text; never raw control bytes
  bool alert = false;        // the response failed, was cancelled or ended incomplete
};

struct timeline_totals {
  std::int64_t duration_us = 0;               // first event to last
  std::optional<std::int64_t> first_token_us; // first delta of any kind
  std::size_t deltas = 0;
  std::int64_t gap_p50_us = 0; // between consecutive deltas
  std::int64_t gap_max_us = 0;
  std::size_t tool_calls = 0;
  std::string status; // as the last lifecycle event left it ("" for other streams)
  nlohmann::json usage;
};

struct timeline {
  std::string stream;
  std::vector<timeline_row> rows;
  timeline_totals totals;
};

// corrupt_event for an event that does not decode; an empty stream is an
// empty timeline.
events::result<timeline> make_timeline(const std::vector<events::envelope>& stream);

// As text for a terminal, one row per line and a line of totals.
std::string timeline_text(const timeline& t);
// As JSON for the operator's console (offsets in milliseconds).
nlohmann::json timeline_json(const timeline& t);

} // namespace riposte::projections
