// What a directory actor (the registry for responses, the conversations
// actor) keeps of its children: ids to actors, how many messages it has
// forwarded to each, and the monitored addresses back to ids. It lives
// outside the directory actor, so a restarted one still knows its children.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace riposte::actors {

struct child_directory {
  struct entry {
    caf::actor actor;
    std::uint64_t forwarded = 0; // messages sent to it; compared on passivation
  };
  std::unordered_map<std::string, entry> actors;
  std::unordered_map<caf::actor_addr, std::string> ids; // monitored actor -> id

  // Watches `a` as the child for `id`.
  template <class Self>
  entry& hold(Self* self, const std::string& id, caf::actor a, std::uint64_t forwarded) {
    self->monitor(a);
    ids[a.address()] = id;
    return actors[id] = entry{std::move(a), forwarded};
  }

  // Lets go of a child without watching it die.
  template <class Self>
  void forget(Self* self, std::unordered_map<std::string, entry>::iterator it) {
    self->demonitor(it->second.actor);
    ids.erase(it->second.actor.address());
    actors.erase(it);
  }

  // An idle child asked to stop, having handled `handled` messages: it may
  // only if nothing sent to it is still on its way. Then it is told to stop
  // (with `stop`) and forgotten.
  template <class Self, class Stop>
  void passivate(Self* self, const std::string& id, std::uint64_t handled, Stop stop) {
    auto it = actors.find(id);
    if (it == actors.end() || it->second.forwarded != handled)
      return;
    caf::anon_send(it->second.actor, stop);
    forget(self, it);
  }

  // A watched child died (not passivated: those are forgotten first).
  void on_down(const caf::down_msg& msg) {
    auto id = ids.find(msg.source);
    if (id == ids.end())
      return;
    auto it = actors.find(id->second);
    if (it != actors.end() && it->second.actor.address() == msg.source)
      actors.erase(it);
    ids.erase(id);
  }

  // The directory stops: every child goes too.
  template <class Self>
  void on_exit(Self* self, const caf::exit_msg& msg) {
    for (auto& [id, e] : actors)
      self->send_exit(e.actor, msg.reason);
    actors.clear();
    ids.clear();
    self->quit(msg.reason);
  }

  // A restarted directory watches what its predecessor held.
  template <class Self>
  void watch_all(Self* self) {
    for (auto& [id, e] : actors)
      self->monitor(e.actor);
  }
};

} // namespace riposte::actors
