// One actor per response: it owns the response's stream, appends events with
// the expected version, folds them into the Response view, and answers reads.
#pragma once

#include "actors/services.hpp"

#include <caf/all.hpp>

#include <memory>
#include <string>

namespace riposte::actors {

// `rebuild`: the response exists in the store; load it before anything else.
// `recovering`: start-up found it marked in flight.
caf::actor spawn_response_actor(caf::local_actor* parent, std::shared_ptr<const services> svc,
                                registry_actor registry, std::string id, bool rebuild,
                                bool recovering = false);

} // namespace riposte::actors
