// The tenant-scoped item index: which stored streams (responses today,
// conversations next) hold an item with a given id, so an `item_reference`
// finds it. Entries are markers written in the same write as the events that
// store the item, so an item is findable exactly when it is stored, on every
// store, and any replica reading the store finds it.
//
// Namespace "id" US item id US tenant (stores written before also hold
// "items" US tenant US item id, still read); key: when it was stored
// (20-digit microseconds) US the holder's id. An id several streams hold (a client may
// send its own ids twice) resolves to the newest holder that still has it.
#pragma once

#include "events/event_log.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace riposte::events {

// Ids riposte indexes and resolves: 1 to 256 characters of letters, digits
// and "_-.:" (every id riposte makes, and any sane client's). Others are
// stored but never found by reference.
bool indexable_item_id(std::string_view id);

marker_ref item_marker(std::string_view tenant, std::string_view item_id, std::int64_t stored_us,
                       std::string_view holder);

// The holders of `item_id` within `tenant`, newest first, each once.
result<std::vector<std::string>> item_holders(event_log& log, std::string_view tenant,
                                              std::string_view item_id);

} // namespace riposte::events
