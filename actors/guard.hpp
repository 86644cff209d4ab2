// Fault containment for actor handlers. CAF 0.17 kills an actor whose handler
// throws (its exception handler only picks the exit reason), and every
// request queued behind the failure dies with it. `guarded` wraps each
// handler of a behavior: an exception ends the message it was handling (its
// reply_to or sink answered with a server_error, a requester with an error)
// and the actor's own `on_fault` decides what else to undo; the actor lives.
#pragma once

#include "actors/event_sink.hpp"
#include "actors/messages.hpp"
#include "events/faults.hpp"

#include <caf/all.hpp>
#include <caf/detail/type_traits.hpp>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace riposte::actors {

namespace detail {

template <class T>
void answer_fault(T& arg) {
  using U = std::decay_t<T>;
  if constexpr (is_reply_for<U>) {
    arg(events::server_fault());
  } else if constexpr (std::is_same_v<U, sink_handle>) {
    if (arg.sink)
      arg.sink->fail(events::server_fault());
  }
}

template <class R>
struct fault_result {
  using type = caf::result<R>;
};
template <>
struct fault_result<void> {
  using type = void;
};
template <>
struct fault_result<caf::response_promise> {
  using type = caf::response_promise;
};
template <class T>
struct fault_result<caf::result<T>> {
  using type = caf::result<T>;
};
template <class T>
struct fault_result<caf::typed_response_promise<T>> {
  using type = caf::typed_response_promise<T>;
};
template <class T>
inline constexpr bool is_typed_promise = false;
template <class T>
inline constexpr bool is_typed_promise<caf::typed_response_promise<T>> = true;
template <class T>
struct promised;
template <class T>
struct promised<caf::typed_response_promise<T>> {
  using type = T;
};

template <class R, class Self, class OnFault, class F, class... Ts>
auto guard_one(Self* self, OnFault on_fault, F f, caf::detail::type_list<Ts...>) {
  using out = typename fault_result<R>::type;
  return [self, on_fault, f = std::move(f)](Ts... xs) mutable -> out {
    std::exception_ptr ex;
    try {
      if constexpr (std::is_void_v<R>)
        f(std::forward<Ts>(xs)...);
      else
        return f(std::forward<Ts>(xs)...);
    } catch (...) {
      ex = std::current_exception();
    }
    if constexpr (std::is_void_v<R>) {
      if (!ex)
        return;
    }
    // The message's own requester hears first; the actor then repairs itself.
    (answer_fault(xs), ...);
    try {
      on_fault(events::describe(ex));
    } catch (...) {
      self->quit(caf::exit_reason::unhandled_exception); // a supervisor restarts it
    }
    if constexpr (std::is_same_v<out, caf::response_promise>) {
      auto rp = self->make_response_promise();
      rp.deliver(caf::make_error(caf::sec::runtime_error, "internal fault"));
      return rp;
    } else if constexpr (is_typed_promise<out>) {
      auto rp = self->template make_response_promise<typename promised<out>::type>();
      rp.deliver(caf::make_error(caf::sec::runtime_error, "internal fault"));
      return rp;
    } else if constexpr (!std::is_void_v<out>) {
      return out{caf::make_error(caf::sec::runtime_error, "internal fault")};
    }
  };
}

} // namespace detail

// A behavior whose handlers cannot throw out of the actor. `on_fault(what)`
// runs after an exception, once the message's requester has its error.
template <class Self, class OnFault, class... Fs>
caf::behavior guarded(Self* self, OnFault on_fault, Fs... fs) {
  return caf::behavior{detail::guard_one<typename caf::detail::get_callable_trait<Fs>::result_type>(
      self, on_fault, std::move(fs), typename caf::detail::get_callable_trait<Fs>::arg_types{})...};
}

// The same for a typed actor: `Behavior` is its behavior_type, and the
// compiler checks the handlers against its interface.
template <class Behavior, class Self, class OnFault, class... Fs>
Behavior guarded_typed(Self* self, OnFault on_fault, Fs... fs) {
  return Behavior{detail::guard_one<typename caf::detail::get_callable_trait<Fs>::result_type>(
      self, on_fault, std::move(fs), typename caf::detail::get_callable_trait<Fs>::arg_types{})...};
}

// One callable (a `then` continuation) under the same containment.
template <class Self, class OnFault, class F>
auto guard_fn(Self* self, OnFault on_fault, F f) {
  return detail::guard_one<typename caf::detail::get_callable_trait<F>::result_type>(
      self, on_fault, std::move(f), typename caf::detail::get_callable_trait<F>::arg_types{});
}

} // namespace riposte::actors
