// Identifiers in the OpenAI style: `resp_…`, `msg_…`, `fc_…`, `call_…`.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace riposte::events {

// A long id (32 hex digits or more) begins, as OpenAI's do, with the time:
// 8 hex digits of Unix seconds, then 8 of a counter this process shares
// (seeded at random, so replicas do not count alike), then random digits
// (128 bits in a 48-digit id). Ids made later sort later, so what is keyed
// by them (a response's events, snapshots and markers) is appended at the
// end of the store's key space instead of all over it: an insert lands
// where the last one did, and a flushed table overlaps few older ones,
// which compaction then moves instead of rewriting.
inline std::string make_id(std::string_view prefix, int hex_digits = 48) {
  static constexpr char hex[] = "0123456789abcdef";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Seeded below 2^31: billions of ids before it wraps (one second then
  // sorts out of order, which costs speed, not uniqueness).
  static std::atomic<std::uint32_t> counter{std::random_device{}() >> 1};
  hex_digits = std::max(hex_digits, 0);
  std::string id(prefix.size() + static_cast<std::size_t>(hex_digits), '0');
  std::copy(prefix.begin(), prefix.end(), id.begin());
  char* out = id.data() + prefix.size();
  // The last `digits` hex digits of `v`.
  auto put_hex = [&out](std::uint64_t v, int digits) {
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
      *out++ = hex[(v >> shift) & 15u];
  };
  int random_digits = hex_digits;
  if (hex_digits >= 32) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    put_hex(
        static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count()),
        8);
    put_hex(counter.fetch_add(1, std::memory_order_relaxed), 8);
    random_digits -= 16;
  }
  // Sixteen random digits from each draw.
  for (; random_digits > 0; random_digits -= 16)
    put_hex(rng(), std::min(random_digits, 16));
  return id;
}

// The event stream of a response, and the snapshot key of its context.
inline std::string response_stream(std::string_view response_id) {
  return std::string{response_id};
}
inline std::string context_key(std::string_view response_id) {
  return "ctx_" + std::string{response_id};
}

} // namespace riposte::events
