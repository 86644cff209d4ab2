// The `riposte replay` and `riposte audit` commands: reading the event log
// without a server.
#pragma once

#include "app/config.hpp"
#include "events/event_log.hpp"

namespace riposte::app {

int run_replay(const replay_options& opts, events::event_log& log);
int run_audit(const audit_options& opts, events::event_log& log);

} // namespace riposte::app
