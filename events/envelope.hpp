// The stored envelope of every event (message-db's columns) and the shape an
// event has before it is appended.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace riposte::events {

// What a writer hands to event_log::append; the log assigns seq and position.
struct new_event {
  std::string type;
  int version = 1;
  std::string tenant;
  std::int64_t recorded_at = 0; // microseconds since the Unix epoch
  nlohmann::json data;
  // Encoded from a typed event (make_new_event): it decodes by construction,
  // so a log need not decode it again to validate it.
  bool encoded = false;
  // The data as JSON text instead, when make_new_event wrote it straight from
  // the typed event (events::text_of: every event a response streams); `data`
  // is then null. Read both through data_json / data_text.
  std::string text;
};

// A new event's data, whichever form it came in.
nlohmann::json data_json(const new_event& ev);
std::string data_text(const new_event& ev);

// An event as stored: gap-free `seq` within its stream (from 0), and a
// global position that orders every event of the log.
struct envelope {
  std::string stream;
  std::uint64_t seq = 0;
  std::uint64_t global_position = 0;
  std::string type;
  int version = 1;
  std::string tenant;
  std::int64_t recorded_at = 0;
  nlohmann::json data;

  friend bool operator==(const envelope&, const envelope&) = default;
};

nlohmann::json to_json(const envelope& env);

} // namespace riposte::events
