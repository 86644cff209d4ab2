#include "events/faults.hpp"

namespace riposte::events {

namespace {
std::function<void(const fault_report&)>& reporter() {
  static std::function<void(const fault_report&)> r;
  return r;
}
} // namespace

error_info server_fault() {
  return make_error(riposte_errc::internal,
                    "The server had an error while processing your request.");
}

void set_fault_reporter(std::function<void(const fault_report&)> r) {
  reporter() = std::move(r);
}

void report_fault(std::string where, std::string what, std::string id) noexcept {
  try {
    if (reporter())
      reporter()(fault_report{std::move(where), std::move(what), std::move(id)});
  } catch (...) {
  }
}

std::string describe(std::exception_ptr ex) {
  try {
    std::rethrow_exception(std::move(ex));
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

} // namespace riposte::events
