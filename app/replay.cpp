// replay: one response's stream; audit: the global feed. Both print to
// stdout and say why on stderr when they cannot.
#include "app/replay.hpp"

#include "events/event.hpp"
#include "events/json_safe.hpp"
#include "http/sse.hpp"
#include "projections/conversation.hpp"
#include "projections/response_view.hpp"
#include "projections/stream_events.hpp"
#include "projections/timeline.hpp"

#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

namespace riposte::app {

namespace {

// A stream folded into `State`, each event printed first unless `quiet`;
// an event that does not fold is said on stderr (nullopt).
template <class State>
std::optional<State> fold_printing(const std::vector<events::envelope>& stream, bool quiet) {
  State state;
  for (const auto& env : stream) {
    if (!quiet)
      std::cout << events::serialize(env) << '\n';
    auto next = projections::apply(std::move(state), env);
    if (!next) {
      std::cerr << "riposte: event " << env.seq << ": " << next.error().message << '\n';
      return std::nullopt;
    }
    state = std::move(*next);
  }
  return state;
}

} // namespace

int run_replay(const replay_options& opts, events::event_log& log) {
  auto stream = log.read(opts.response_id, 0, std::size_t{1} << 30);
  if (!stream) {
    std::cerr << "riposte: "
              << (stream.error().code == events::riposte_errc::not_found
                      ? "no response '" + opts.response_id + "' in this store"
                      : stream.error().message)
              << '\n';
    return 1;
  }
  if (opts.timeline) {
    auto t = projections::make_timeline(*stream);
    if (!t) {
      std::cerr << "riposte: " << t.error().message << '\n';
      return 1;
    }
    std::cout << projections::timeline_text(*t);
    return 0;
  }
  if (opts.response_id.rfind("conv_", 0) == 0) {
    // A conversation: its events, then what they make of it.
    if (opts.sse) {
      std::cerr << "riposte: a conversation has no stream to replay as SSE\n";
      return 1;
    }
    auto conv = fold_printing<projections::conversation_state>(*stream, opts.response_only);
    if (!conv)
      return 1;
    auto out = projections::conversation_object(*conv);
    out["items"] = conv->items;
    out["deleted"] = conv->deleted;
    std::cout << events::dump_json(out) << '\n';
    return 0;
  }
  if (opts.sse) {
    auto rendered = projections::replay_stream(*stream, opts.starting_after);
    if (!rendered) {
      std::cerr << "riposte: " << rendered.error().message << '\n';
      return 1;
    }
    http::sse_options sse;
    sse.obfuscation = opts.obfuscation;
    sse.response_id = opts.response_id;
    for (const auto& event : *rendered)
      std::cout << http::sse_frame(event, sse);
    return 0;
  }
  auto state = fold_printing<projections::response_state>(*stream, opts.response_only);
  if (!state)
    return 1;
  std::cout << events::dump_json(projections::render(*state)) << '\n';
  return 0;
}

int run_audit(const audit_options& opts, events::event_log& log, const log_opener& reopen) {
  using clock = std::chrono::steady_clock;
  std::uint64_t after = opts.after;
  std::size_t printed = 0;
  events::event_log* current = &log;
  std::unique_ptr<events::event_log> reopened;
  // A view opened read-only beside a running riposte cannot tell a write
  // still landing from one that failed: once the follower has caught up, a
  // hole in the positions (which RocksDB hands out one by one) is waited for
  // up to hole_grace before it is passed.
  bool live = false;
  constexpr auto hole_grace = std::chrono::seconds(2);
  std::uint64_t hole_at = 0;
  clock::time_point hole_since{};
  for (;;) {
    auto page = current->read_all(after, 4096);
    if (!page) {
      std::cerr << "riposte: " << page.error().message << '\n';
      if (!opts.follow)
        return 1;
      page = std::vector<events::envelope>{}; // a follower waits out a store that is away
    }
    bool stalled = false;
    for (const auto& env : *page) {
      if (live && reopen && env.global_position > after + 1) {
        if (hole_at != after + 1) {
          hole_at = after + 1;
          hole_since = clock::now();
        }
        if (clock::now() - hole_since < hole_grace) {
          stalled = true;
          break;
        }
      }
      after = env.global_position;
      auto seconds = env.recorded_at / 1'000'000;
      if ((!opts.tenant.empty() && env.tenant != opts.tenant) ||
          (!opts.type.empty() && env.type != opts.type) ||
          (opts.since != 0 && seconds < opts.since) || (opts.until != 0 && seconds >= opts.until))
        continue;
      std::cout << events::serialize(env) << '\n';
      if (opts.limit != 0 && ++printed == opts.limit)
        return 0;
    }
    if (!page->empty() && !stalled)
      continue;
    if (!opts.follow)
      return 0;
    live = true;
    std::cout.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(opts.follow_every_ms));
    if (reopen) {
      reopened.reset(); // one view open at a time
      current = &log;
      if (auto fresh = reopen()) {
        reopened = std::move(*fresh);
        current = reopened.get();
      } else {
        std::cerr << "riposte: " << fresh.error().message << '\n';
      }
    }
  }
}

} // namespace riposte::app
