// The actor scheduler riposte runs on: CAF's work sharing (one queue, idle
// workers sleep), with two changes for a stream of small messages:
//  - an idle worker spins a few microseconds before it sleeps, since the
//    next token's message is usually that close behind;
//  - a sleeping worker is woken only when one sleeps, and after the queue's
//    lock is released (CAF's policy signals under the lock, so the woken
//    worker blocks on the lock right away: two futex calls per message).
#pragma once

#include <caf/actor_system_config.hpp>

namespace riposte::actors {

// Loads the scheduler into `cfg` (its scheduler.max-threads still applies).
void use_riposte_scheduler(caf::actor_system_config& cfg);

} // namespace riposte::actors
