// The actor scheduler riposte runs on, with workers of its own (threads
// named riposte.actors): CAF's work sharing (one queue, idle workers
// sleep), except that a worker is woken only when one sleeps, and
// after the queue's lock is released. CAF's policy signals for every message
// under the lock, so the woken worker blocks on the lock right away: two
// futex calls per message. A message one actor sends another wakes a worker
// only when there are more jobs queued than workers awake: the sender's
// worker runs it next (one wake per create fewer at low load). (Spinning a
// little before sleeping was tried: it saved no CPU here, and spinning
// workers take the cores from the others.) A worker runs a job without
// CAF's per-job logger bookkeeping. Its clock is CAF's, except that an
// actor that never set a timeout ends without waking the clock's thread.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdint>

namespace riposte::actors {

// Loads the scheduler into `cfg` (its scheduler.max-threads still applies).
void use_riposte_scheduler(caf::actor_system_config& cfg);

// How many ending actors had their timeouts cancelled through the clock's
// thread so far: only those that ever set one (a request's timeout, a
// receive timeout). 0 for a system not on riposte's scheduler.
std::uint64_t clock_cancellations(caf::actor_system& sys);

} // namespace riposte::actors
