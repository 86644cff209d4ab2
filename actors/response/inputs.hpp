// What the model reads of a request's files and images: `file_id` images
// become data URLs, `input_file` parts (a stored file or inline file_data)
// become text the model can read — text formats as they are, PDFs through
// poppler — wrapped with their file name. The stored input keeps the
// references exactly as the client sent them.
#pragma once

#include "events/errc.hpp"
#include "events/event_log.hpp"
#include "projections/conversation.hpp"
#include "projections/response_view.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace riposte::actors {

// A resource fetched from a URL the client gave.
struct fetched_resource {
  std::string bytes;
  std::string content_type;
};
// Fetches a URL under riposte's guard (adapters/fetch); blocking.
using url_fetcher = std::function<events::result<fetched_resource>(const std::string& url)>;

struct input_limits {
  std::uint64_t max_file_bytes = 32u << 20; // one file or image read into a request
  url_fetcher fetch;                        // empty: URL inputs are refused
};

// Does `input` hold item_reference items?
bool has_item_references(const nlohmann::json& input);

// `input` with each item_reference replaced by the stored item with that id
// (the newest stored response of the tenant that holds one; deleted
// responses hold none), as if the client had sent the item itself: it is
// stored so and reaches the model so. Blocking: store threads only. An id
// that resolves to nothing is the API's 404 "Item with id '…' not found."
// (with its advice when the request itself is `store: false`).
events::result<nlohmann::json> resolve_item_references(const nlohmann::json& input,
                                                       const std::string& tenant,
                                                       events::event_log& log, bool store);

// Stored items by id, for one tenant (blocking: store threads only): the
// newest holder that still has the item, a response (not deleted) or a
// conversation (whose items outlive it, as the API's do). Each holder is
// read once per finder.
class item_finder {
public:
  item_finder(events::event_log& log, std::string tenant);
  // Null when no holder has it; valid while the finder lives.
  events::result<const nlohmann::json*> find(const std::string& id);

private:
  events::event_log& log_;
  std::string tenant_;
  std::map<std::string, projections::response_state> responses_;
  std::map<std::string, projections::conversation_state> conversations_;
};

// Does any part of `input` need resolve_inputs()?
bool has_references(const nlohmann::json& input);

// `input` with references resolved for the backend (blocking: store threads
// only). Errors name the part: "input[2].content[1].file_id".
events::result<nlohmann::json> resolve_inputs(const nlohmann::json& input,
                                              const std::string& tenant, events::event_log& log,
                                              const input_limits& limits);

} // namespace riposte::actors
