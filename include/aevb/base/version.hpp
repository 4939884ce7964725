// The version of aevb, from project(... VERSION ...) in CMakeLists.txt: one
// source for --version and every file's created_by attribute.
#pragma once

namespace aevb {

const char* version();  // e.g. "0.1.0"

}  // namespace aevb
