// One actor per response: it owns the response's stream, appends events with
// the expected version, folds them into the Response view, and answers reads.
#pragma once

#include "actors/messages.hpp"
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

// A new response's actor, spawned outside any actor (the HTTP side). Its
// first message, before it handles anything, asks the registry to adopt it:
// whatever names the id later (a read, a replay) reaches the registry after
// that, since nobody learns the id before the actor has run.
caf::actor spawn_adopted_response_actor(caf::actor_system& sys, std::shared_ptr<const services> svc,
                                        std::string id);

// Starts a new response from outside any actor: its actor gets the create
// with whoever waits (a blocking create, a token count, a compaction) or
// streams, straight from the caller's thread, without passing the registry.
template <class Waiter>
void start_response(caf::actor_system& sys, std::shared_ptr<const services> svc, create_command cmd,
                    Waiter waiter) {
  auto a = spawn_adopted_response_actor(sys, std::move(svc), cmd.response_id);
  caf::anon_send(a, create_atom::value, std::move(cmd), std::move(waiter));
}

} // namespace riposte::actors
