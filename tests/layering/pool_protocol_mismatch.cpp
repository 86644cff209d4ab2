// Must not compile: the backend pool's interface takes a model's name, not a number.
// expect: receiver does not accept given message
#include "actors/messages.hpp"

void probe(riposte::actors::backend_pool_actor pool) {
  caf::anon_send(pool, riposte::actors::model_atom::value, 42);
}
