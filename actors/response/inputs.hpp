// What the model reads of a request's files and images: `file_id` images
// become data URLs, `input_file` parts (a stored file or inline file_data)
// become text the model can read — text formats as they are, PDFs through
// poppler — wrapped with their file name. The stored input keeps the
// references exactly as the client sent them.
#pragma once

#include "events/errc.hpp"
#include "events/event_log.hpp"

#include <nlohmann/json.hpp>

#include <functional>
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

// Does any part of `input` need resolve_inputs()?
bool has_references(const nlohmann::json& input);

// `input` with references resolved for the backend (blocking: store threads
// only). Errors name the part: "input[2].content[1].file_id".
events::result<nlohmann::json> resolve_inputs(const nlohmann::json& input,
                                              const std::string& tenant, events::event_log& log,
                                              const input_limits& limits);

} // namespace riposte::actors
