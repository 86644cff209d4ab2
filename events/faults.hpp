// Where a contained failure is reported. An exception caught at a thread or
// actor boundary (a store job, the writer, a backend callback, an actor's
// handler) ends only the request it belonged to; it is reported here, and
// app/ turns the report into an error log line and riposte_faults_total.
#pragma once

#include "events/errc.hpp"

#include <exception>
#include <functional>
#include <string>

namespace riposte::events {

struct fault_report {
  std::string where; // "registry", "response", "store", "writer", "backend", ...
  std::string what;  // the exception's text
  std::string id;    // the response (or other) id it concerned, if known
};

// The error a request gets when riposte, not the client, failed it: a 500
// server_error that says nothing of riposte's insides.
error_info server_fault();

// Set once at start-up, before any thread runs; reports come from any thread.
void set_fault_reporter(std::function<void(const fault_report&)> reporter);
// Never throws.
void report_fault(std::string where, std::string what, std::string id = {}) noexcept;

// What a caught exception says (its what(), or that it was not a
// std::exception), for a report.
std::string describe(std::exception_ptr ex);

} // namespace riposte::events
