// Must not compile: events/ is the lowest layer.
#include "projections/response_view.hpp"
