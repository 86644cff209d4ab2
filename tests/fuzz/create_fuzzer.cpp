// Fuzz target: a POST /v1/responses body through validation into a create
// command, and what is stored of it (the response_created event) through the
// codec and back. Nothing may throw, crash or recurse without bound.
#include "events/event.hpp"
#include "events/json_safe.hpp"
#include "http/validate.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ev = riposte::events;
  std::string_view body{reinterpret_cast<const char*>(data), size};
  auto cmd = riposte::http::parse_create(body, riposte::http::create_limits{});
  if (!cmd)
    return 0;
  ev::response_created created{"resp_fuzz", cmd->model, 0, cmd->params, cmd->input};
  auto stored = ev::make_new_event(ev::event{created}, "tenant", 0);
  auto text = ev::data_text(stored);
  auto back = ev::parse_stored(text);
  if (back.is_discarded() || !ev::decode(stored.type, stored.version, back))
    __builtin_trap(); // what riposte stores must read back
  return 0;
}
