// Idempotency records on top of any event_log: the key's stream is opened with
// expected version no_stream, so the log's optimistic concurrency decides
// which request claimed the key first.
#include "events/event_log.hpp"

#include "events/event.hpp"

namespace riposte::events {

std::string idempotency_stream(std::string_view tenant, std::string_view key) {
  // Length-prefixing the tenant keeps ("a_b","c") and ("a","b_c") apart.
  return "idem_" + std::to_string(tenant.size()) + "_" + std::string{tenant} + "_" +
         std::string{key};
}

result<std::optional<idempotency_record>> event_log::find_idempotency(const std::string& tenant,
                                                                      const std::string& key) {
  auto events = read(idempotency_stream(tenant, key), 0, 1);
  if (!events) {
    if (events.error().code == riposte_errc::not_found)
      return std::optional<idempotency_record>{};
    return events.error();
  }
  if (events->empty())
    return std::optional<idempotency_record>{};
  auto decoded = decode(events->front());
  if (!decoded)
    return decoded.error();
  const auto* rec = std::get_if<idempotency_key_recorded>(&*decoded);
  if (rec == nullptr)
    return make_error(riposte_errc::corrupt_event,
                      "idempotency stream opens with a '" + events->front().type + "' event");
  return std::optional<idempotency_record>{idempotency_record{rec->request_hash, rec->response_id}};
}

result<idempotency_record> event_log::claim_idempotency(const std::string& tenant,
                                                        const std::string& key,
                                                        const idempotency_record& record,
                                                        std::int64_t recorded_at) {
  auto ev = make_new_event(idempotency_key_recorded{key, record.request_hash, record.response_id},
                           tenant, recorded_at);
  auto appended = append(idempotency_stream(tenant, key), no_stream, {ev});
  if (appended)
    return record;
  if (appended.error().code != riposte_errc::version_conflict)
    return appended.error();
  auto existing = find_idempotency(tenant, key);
  if (!existing)
    return existing.error();
  if (!*existing)
    return make_error(riposte_errc::store_error, "idempotency key vanished after a conflict");
  return **existing;
}

} // namespace riposte::events
