// Chart.js, bundled into aevb-report at build time (src/report/report.cmake
// reads Debian's libjs-chart.js chart.min.js and generates chart_js_data.cpp
// in the build tree): the page inlines it, so it needs no network and no
// Chart.js installed where the report is made or read.
#pragma once
#include <cstddef>

namespace aevb::report {

extern const unsigned char kChartJsBytes[];  // chart.min.js, byte for byte
extern const std::size_t kChartJsSize;
extern const char kChartJsVersion[];         // from its banner, e.g. "3.9.1"

}  // namespace aevb::report
