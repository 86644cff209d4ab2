// The chain context: what a follow-up (`previous_response_id`) continues
// from. Each finished response adds one immutable segment (its input and
// output items) after its parent's; children share their ancestors' segments,
// so handing a chain of any depth to a follow-up copies nothing. Also the
// segment's snapshot codec (a cache of the fold) and what a segment records
// for prompt-cache accounting.
#pragma once

#include "events/errc.hpp"
#include "projections/response_view.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace riposte::projections {

// A place for a backend adapter to keep what it made of a segment once.
// Copies start empty (a copy is a different segment).
struct adapter_slot {
  adapter_slot() = default;
  adapter_slot(const adapter_slot&) {}
  adapter_slot& operator=(const adapter_slot&) { return *this; }
  mutable std::mutex mutex;
  mutable std::shared_ptr<const void> value;
};

// An immutable piece of a chain: one response's items, after its parent's.
struct chain_segment {
  chain_segment() = default;
  chain_segment(std::shared_ptr<const chain_segment> parent_, nlohmann::json items_,
                std::int64_t depth_)
    : parent(std::move(parent_))
    , items(std::move(items_))
    , depth(depth_) {}

  std::shared_ptr<const chain_segment> parent;
  nlohmann::json items = nlohmann::json::array();
  std::int64_t depth = 0; // responses in the chain, this one included
  // For prompt-cache accounting: the model that ran this turn, a
  // fingerprint of its instructions, and the tokens of this turn's prompt
  // (and answer) that a follow-up on the same model starts with.
  std::string model;
  std::string instructions_fp;
  std::int64_t prefix_tokens = 0;

  // What a backend adapter made of `items` once (its wire form, say), so a
  // follow-up at any depth re-renders only its own turn. Set once, by
  // whichever thread renders the segment first.
  adapter_slot adapter_cache;
};
using chain_ptr = std::shared_ptr<const chain_segment>;

// Every item of a chain, oldest first, without copying them.
std::vector<const nlohmann::json*> chain_items(const chain_ptr& leaf);

// A stable fingerprint of a turn's instructions (FNV-1a of their JSON).
std::string fingerprint_of(const nlohmann::json& instructions);

// What a follow-up's prompt shares with this turn in the backend's KV cache:
// this turn's prompt, and its answer unless the answer began with reasoning
// (a new turn's prompt leaves finished reasoning out, so it diverges there).
std::int64_t cacheable_prefix(const response_state& view);

// The stored form of a finished response's segment. A checkpoint holds the
// whole chain's items; any other segment holds its own and names its parent.
std::string to_chain_snapshot(const chain_segment& seg, bool checkpoint,
                              const std::string& parent_id);

// A stored segment: `items` only its own when `parent_id` is set (the rest
// is that parent's chain), else the whole chain. Null when unreadable.
struct stored_chain {
  chain_ptr segment;
  std::string parent_id;
};
stored_chain from_chain_snapshot(const std::string& payload);

} // namespace riposte::projections
