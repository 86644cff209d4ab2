// One generation over HTTP, whatever the wire: the reply's bytes go through
// the kind's translator, its events to the sink; the end of the transfer
// closes it. Shared by every backend kind.
#pragma once

#include "actors/ports/backend.hpp"
#include "adapters/backends/http_client.hpp"

#include <memory>
#include <string>

namespace riposte::adapters::backends {

// `Translator` has feed(bytes) and finish(status, error, timed_out,
// connect_failed, error_body), both returning events.
template <class Translator>
std::uint64_t stream_generation(http_client& client, http_request r,
                                std::shared_ptr<Translator> translator, actors::update_sink sink) {
  auto error_body = std::make_shared<std::string>();
  r.on_data = [translator, sink, error_body](long status, std::string_view bytes) {
    if (status >= 400) {
      if (error_body->size() < (1u << 20))
        error_body->append(bytes);
      return;
    }
    auto evs = translator->feed(bytes);
    if (!evs.empty())
      sink({std::move(evs), false});
  };
  r.on_done = [translator, sink, error_body](const http_outcome& out) {
    if (out.aborted) {
      sink({{}, true});
      return;
    }
    actors::generation_update last{
        translator->finish(out.status, out.error, out.timed_out, out.connect_failed, *error_body),
        true, out.timing};
    sink(std::move(last));
  };
  return client.start(std::move(r));
}

} // namespace riposte::adapters::backends
