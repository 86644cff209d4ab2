// Conversations over the event log: each conversation is a stream
// `conv_<id>` (projections/conversation.hpp) owned by one actor, which runs
// its operations one at a time on the store threads and keeps the folded
// state between them. The directory actor finds (or rebuilds) a
// conversation's actor and lets idle ones go, as the registry does for
// responses. Its protocol, conversations_actor, is in messages.hpp.
#pragma once

#include "actors/messages.hpp"
#include "actors/services.hpp"

#include <memory>

namespace riposte::actors {

// The directory's map of live conversation actors, kept across a restart of
// the directory itself.
struct conversations_memory;
std::shared_ptr<conversations_memory> make_conversations_memory();

caf::actor spawn_conversations(caf::actor_system& sys, std::shared_ptr<const services> svc,
                               std::shared_ptr<conversations_memory> memory = nullptr);

// Ids riposte hands out: "conv_" and lowercase hex or digits (a client's id
// that is not one of these names no conversation).
bool plausible_conversation_id(const std::string& id);

} // namespace riposte::actors
