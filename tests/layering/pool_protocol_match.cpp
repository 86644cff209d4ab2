// Must compile: cancelling a ticket is in the backend pool's interface.
#include "actors/messages.hpp"

void probe(riposte::actors::backend_pool_actor pool) {
  caf::anon_send(pool, riposte::actors::cancel_atom::value, std::uint64_t{7});
}
