// Must not compile: projections are pure folds and know no actor.
#include "actors/messages.hpp"
