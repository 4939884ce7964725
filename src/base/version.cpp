#include "aevb/base/version.hpp"

namespace aevb {

const char* version() { return AEVB_VERSION_STRING; }

}  // namespace aevb
