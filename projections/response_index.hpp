// The operator's index: one row per stored response (tenant, status, model,
// mode, times, error, usage, chain and conversation) and one per
// conversation (tenant, times, items, the responses run on it), folded from
// the global feed in order, queried with filters and a cursor, and kept as
// segments of rows so that a restart loads it instead of reading the whole
// log again. A pure fold: no I/O, no clock.
#pragma once

#include "events/envelope.hpp"
#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace riposte::projections {

struct index_row {
  std::string id;
  std::string tenant;
  std::string model;
  std::string mode;            // blocking | stream | background; "" where not recorded
  std::string status;          // queued | in_progress | completed | incomplete | failed | cancelled
  std::int64_t created_at = 0; // seconds, as the Response object says
  std::int64_t created_us = 0; // when its first event was recorded
  std::int64_t ended_us = 0;   // its terminal event's, 0 while it runs
  std::int64_t first_token_us = 0; // its first delta's, 0 before one
  std::string error_code;          // a failed response's error.code
  std::string reason;              // why it ended incomplete or cancelled
  std::int64_t input_tokens = -1;  // -1: no usage reported
  std::int64_t output_tokens = -1;
  std::string previous_response_id;
  std::string conversation;
  bool deleted = false;
  std::uint64_t seq = 0;      // its last event folded in (a replayed one is skipped)
  std::uint64_t position = 0; // the global position of its response_created

  bool ended() const { return ended_us != 0; }
  std::optional<std::int64_t> duration_us() const;
  std::optional<std::int64_t> time_to_first_token_us() const;
  std::optional<std::int64_t> total_tokens() const;
};

struct conversation_row {
  std::string id;
  std::string tenant;
  std::int64_t created_at = 0; // seconds, as the Conversation object says
  std::int64_t created_us = 0; // when its first event was recorded
  std::int64_t active_us = 0;  // its latest event, or the latest response created on it
  std::int64_t items = 0;      // the items it holds now
  std::int64_t responses = 0;  // responses created on it
  std::string last_response_id;
  bool deleted = false;
  std::uint64_t seq = 0;      // its last event folded in
  std::uint64_t position = 0; // the global position of its conversation_created

  // Whole seconds, as created_at.
  std::int64_t active_at() const { return active_us / 1'000'000; }
};

// What an operator asks for; an empty field filters nothing.
struct index_filter {
  std::string tenant, status, model, mode, error_code, conversation;
  std::string previous_response_id;                          // the responses that continue this one
  std::optional<std::int64_t> created_after, created_before; // seconds: [after, before)
  std::optional<std::int64_t> min_tokens, max_tokens;        // total tokens
  std::optional<std::int64_t> min_duration_ms, max_duration_ms;
  std::optional<std::int64_t> min_first_token_ms, max_first_token_ms;
  bool include_deleted = false;
  std::string after; // cursor: the rows that follow this id in the order
  std::size_t limit = 20;
  bool ascending = false; // oldest first; by default the newest come first
};

template <class Row>
struct page_of {
  std::vector<Row> rows;
  bool has_more = false;
};
using index_page = page_of<index_row>;

struct conversation_filter {
  std::string tenant;
  std::optional<std::int64_t> created_after, created_before; // seconds: [after, before)
  std::optional<std::int64_t> active_after,
      active_before; // seconds, last activity: [after, before)
  std::optional<std::int64_t> min_items, max_items;
  std::optional<std::int64_t> min_responses, max_responses;
  bool include_deleted = false;
  std::string after; // cursor, as index_filter's
  std::size_t limit = 20;
  bool ascending = false;
};
using conversation_page = page_of<conversation_row>;

// The two kinds of rows are kept in segments of their own.
enum class segment_kind : std::uint8_t { responses, conversations };
struct segment_ref {
  segment_kind kind = segment_kind::responses;
  std::size_t n = 0;
  auto operator<=>(const segment_ref&) const = default;
};

class response_index {
public:
  // Rows per persisted segment.
  static constexpr std::size_t segment_rows = 1024;

  // Folds one event of the feed in (feed order); events of streams neither
  // a response's nor a conversation's only move the position. An event
  // already folded in is skipped.
  void apply(const events::envelope& env);

  // Whether the fold reads an event's data (the others only by their
  // header: type, stream, seq, time).
  static bool needs_data(std::string_view type);
  // The part of such an event's data the fold reads (the rest of a
  // creation, its input and most parameters, is never kept).
  static nlohmann::json digest(std::string_view type, const nlohmann::json& data);

  // The global position folded through.
  std::uint64_t position() const { return position_; }
  std::size_t size() const { return rows_.size(); }
  std::size_t conversations() const { return conversations_.size(); }
  const index_row* find(const std::string& id) const;
  const conversation_row* find_conversation(const std::string& id) const;

  static bool matches(const index_row& row, const index_filter& f);
  // A page of rows that match, in creation order (or its reverse). An
  // `after` that names no row (or one the filter's tenant may not see) is
  // invalid_value on `after`.
  events::result<index_page> query(const index_filter& f) const;
  static bool matches(const conversation_row& row, const conversation_filter& f);
  events::result<conversation_page> query(const conversation_filter& f) const;

  // Persistence: the segments changed since the last call, each with its
  // payload, and the manifest that names them all; both carry position().
  // A loaded index resumes the feed after its position.
  std::vector<std::pair<segment_ref, std::string>> take_dirty_segments();
  std::string manifest() const;
  // The number of segments of each kind a manifest names and its position;
  // corrupt_event when it is not one this build wrote.
  struct manifest_info {
    std::uint64_t position = 0;
    std::size_t segments = 0;
    std::size_t conversation_segments = 0;
  };
  static events::result<manifest_info> read_manifest(const std::string& payload);
  // Adds a segment's rows (rows already present are kept as they are).
  events::status load_segment(const std::string& payload,
                              segment_kind kind = segment_kind::responses);
  void set_position(std::uint64_t position) { position_ = position; }
  // A segment taken but not kept after all: taken again next time.
  void mark_dirty(segment_ref segment) { dirty_.insert(segment); }
  void mark_all_dirty();

  // One row as the operator API shows it.
  static nlohmann::json to_json(const index_row& row);
  static nlohmann::json to_json(const conversation_row& row);

private:
  void apply_conversation(const events::envelope& env);
  void touch(std::size_t conversation);

  std::vector<index_row> rows_; // creation order
  std::unordered_map<std::string, std::size_t> by_id_;
  std::vector<conversation_row> conversations_; // creation order
  std::unordered_map<std::string, std::size_t> conversation_by_id_;
  std::set<segment_ref> dirty_;
  std::uint64_t position_ = 0;
};

} // namespace riposte::projections
