// A JSON object built from its members, each value moved in once.
// nlohmann's initializer lists copy every value and wrap each member in a
// two-element array first: an output item built that way costs twice the
// time (3.0 against 1.5 µs for a message item on this VM).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <utility>

namespace riposte::events {

// object_of({{"type", "message"}, {"id", id}}): the members as listed (a
// name given twice keeps its first value).
template <std::size_t N>
nlohmann::json object_of(std::pair<const char*, nlohmann::json> (&&members)[N]) {
  nlohmann::json out(nlohmann::json::value_t::object);
  auto& object = out.get_ref<nlohmann::json::object_t&>();
  for (auto& [name, value] : members)
    object.emplace(name, std::move(value));
  return out;
}

// An array of `values`, each moved in.
template <typename... Values>
nlohmann::json array_of(Values&&... values) {
  nlohmann::json out(nlohmann::json::value_t::array);
  auto& array = out.get_ref<nlohmann::json::array_t&>();
  array.reserve(sizeof...(values));
  (array.emplace_back(std::forward<Values>(values)), ...);
  return out;
}

} // namespace riposte::events
