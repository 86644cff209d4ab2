// Must not compile: adapters see the ports, not the actors behind them.
#include "actors/services.hpp"
