// Fuzz target: stored bytes (a corrupted or hostile store) through the
// envelope parser, the upcasters and the decoder, and a decoded event back
// out: errors are values, never exceptions or crashes. The data is written
// back as dump() writes it, byte for byte.
#include "events/event.hpp"
#include "events/json_safe.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ev = riposte::events;
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  auto env = ev::parse_envelope(bytes);
  auto header = ev::parse_envelope_header(bytes);
  // A whole envelope has a header, and it is the same one.
  if (env && (!header || header->type != env->type || header->seq != env->seq ||
              header->global_position != env->global_position || !header->data.is_null()))
    __builtin_trap();
  if (!env)
    return 0;
  // riposte's compact writer writes what nlohmann's dump() would.
  if (ev::dump_json(env->data) !=
      env->data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
    __builtin_trap();
  auto decoded = ev::decode(*env);
  if (!decoded)
    return 0;
  auto again = ev::make_new_event(*decoded, env->tenant, env->recorded_at);
  (void)ev::serialize_text(*env, ev::data_text(again));
  (void)ev::dump_json(ev::to_json(*env));
  return 0;
}
