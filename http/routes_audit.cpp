// GET /v1/audit/events: the global feed for the admin key, as pages
// (`after`, `limit`) or, with `stream=true`, as a live SSE tail that a
// browser reads through a fetch stream (EventSource cannot send the key).
// Both filter by `tenant`, `type` and `stream_id`. A tail sends each event
// as `id: <global position>` (a client resumes with `after` or
// Last-Event-ID), reads the feed again at once while it has more and every
// `tail_period` when it is idle, sends a comment when nothing was written
// for `tail_keepalive`, and ends when the client goes.
#include "actors/messages.hpp"
#include "events/json_safe.hpp"
#include "http/errors.hpp"
#include "http/routes.hpp"
#include "http/validate.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace riposte::http {

namespace ev = events;
using json = nlohmann::json;
using events::riposte_errc;

namespace {

constexpr auto tail_period = std::chrono::milliseconds(200);
constexpr auto tail_keepalive = std::chrono::seconds(15);
constexpr std::int64_t tail_page = 1000;

// One live tail: reads a page, writes what it wants, and asks again.
struct audit_tail : std::enable_shared_from_this<audit_tail> {
  actors::slot_ptr registry;
  std::shared_ptr<chunk_stream> out;
  audit_query q;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  bool ended = false; // touched by one read or write callback at a time

  void end() {
    if (!ended)
      out->finish();
    ended = true;
  }
  ~audit_tail() {
    try {
      end();
    } catch (...) {
    }
  }

  void next(std::chrono::milliseconds delay) {
    using fn = actors::reply_for<actors::events_page>::fn_type;
    actors::reply_for<actors::events_page> answer{
        fn([self = shared_from_this()](ev::result<actors::events_page> page) {
          try {
            self->on_page(std::move(page));
          } catch (...) { // nothing leaves the store's thread
            self->end();
          }
        })};
    auto to = registry->as<actors::registry_actor>();
    actors::audit_filter filter = q;
    if (delay.count() == 0)
      caf::anon_send(to, actors::audit_atom::value, q.after, tail_page, std::move(filter), true,
                     std::move(answer));
    else
      caf::delayed_anon_send(to, delay, actors::audit_atom::value, q.after, tail_page,
                             std::move(filter), true, std::move(answer));
  }

  void on_page(ev::result<actors::events_page> page) {
    if (!page) {
      out->write("event: error\ndata: " +
                     ev::dump_json(json{{"type", "error"},
                                        {"code", map_error(page.error().code).code},
                                        {"message", page.error().message}}) +
                     "\n\n",
                 [self = shared_from_this()](bool) noexcept {
                   try {
                     self->end();
                   } catch (...) {
                   }
                 });
      return;
    }
    std::string frames;
    for (const auto& env : page->data)
      frames += "id: " + std::to_string(env.global_position) +
                "\nevent: audit.event\ndata: " + ev::serialize(env) + "\n\n";
    q.after = std::max(q.after, page->last_position);
    auto now = std::chrono::steady_clock::now();
    if (frames.empty() && now - last_write >= tail_keepalive)
      frames = ": idle\n\n"; // finds a client that left
    auto wait = page->has_more ? std::chrono::milliseconds(0) : tail_period;
    if (frames.empty())
      return next(wait);
    last_write = now;
    out->write(std::move(frames), [self = shared_from_this(), wait](bool ok) noexcept {
      self->resume(ok, wait); // on the HTTP thread: nothing may leave it
    });
  }

  void resume(bool ok, std::chrono::milliseconds wait) noexcept {
    try {
      if (!ok)
        return end();
      next(wait);
    } catch (...) {
      try {
        end();
      } catch (...) {
      }
    }
  }
};

} // namespace

std::vector<route> audit_routes(const api_context& ctx) {
  std::vector<route> routes;
  auto c = std::make_shared<api_context>(ctx);
  routes.push_back(
      {"GET", "/v1/audit/events", [c](const request& req, const auto&, reply_fn reply) {
         if (auto ok = c->auth->check_admin(req); !ok)
           return reply(to_http(ok.error()));
         auto q = parse_audit_query(req.query, req.header("last-event-id"));
         if (!q)
           return reply(to_http(q.error()));
         if (q->stream) {
           auto tail = std::make_shared<audit_tail>();
           tail->registry = c->registry;
           tail->q = std::move(*q);
           // (as every SSE stream: no proxy may hold the tail in a buffer)
           tail->out = req.reply_channel->stream(
               "text/event-stream; charset=utf-8",
               {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
           // The first bytes open the stream at once, before any event.
           tail->out->write(": riposte audit tail\n\n", [tail](bool ok) noexcept {
             tail->resume(ok, std::chrono::milliseconds(0));
           });
           return;
         }
         actors::audit_filter filter = *q;
         caf::anon_send(c->registry->as<actors::registry_actor>(), actors::audit_atom::value,
                        q->after, q->limit, std::move(filter), false,
                        reply_rendered<actors::events_page>(
                            std::move(reply), [](const actors::events_page& page) {
                              json data = json::array();
                              for (const auto& env : page.data)
                                data.push_back(ev::to_json(env));
                              return json{{"object", "list"},
                                          {"data", data},
                                          {"last_position", page.last_position},
                                          {"has_more", page.has_more}};
                            }));
       }});
  return routes;
}

} // namespace riposte::http
