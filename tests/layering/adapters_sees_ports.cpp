// Must compile: an adapter implements a port.
#include "actors/ports/backend.hpp"
