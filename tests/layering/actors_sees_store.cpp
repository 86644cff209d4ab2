// Must not compile: actors reach stores through events/event_log.hpp only.
#include "adapters/store/store.hpp"
