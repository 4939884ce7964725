// The fixed parts of the report page: its style sheet and its two scripts.
#pragma once

namespace aevb::report {

// The style sheet (pictures scaled up with image-rendering: pixelated).
extern const char* const kPageCss;

// Runs first, before Chart.js: every uncaught error and unhandled promise
// rejection is appended to <pre id="errors">, so a broken page says so in its
// DOM (the test reads it) and to whoever opens it.
extern const char* const kErrorCatcherJs;

// Runs last: builds one Chart.js chart per spec of <script id="report-data">
// (charts.hpp), records on each canvas how many points it holds
// (data-points, data-points_<key>, data-datasets, data-runs), and sets
// <body data-ready> to "1" when every chart is built ("error" otherwise).
extern const char* const kChartBuilderJs;

}  // namespace aevb::report
