// The `riposte replay` and `riposte audit` commands: reading the event log
// without a server.
#pragma once

#include "app/config.hpp"
#include "events/event_log.hpp"

#include <functional>
#include <memory>

namespace riposte::app {

int run_replay(const replay_options& opts, events::event_log& log);
// `reopen` gives a fresh view of the store, for --follow on a store that
// does not see later writes by itself (RocksDB opened read-only beside a
// running riposte); empty where the log sees them (PostgreSQL).
using log_opener = std::function<events::result<std::unique_ptr<events::event_log>>()>;
int run_audit(const audit_options& opts, events::event_log& log, const log_opener& reopen = {});

} // namespace riposte::app
