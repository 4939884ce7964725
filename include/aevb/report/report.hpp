// aevb-report's entry point (the report layer, src/report/): reads the run
// directories named on the command line and writes the self-contained HTML
// report; returns the exit code (docs/report.md). No MPI.
#pragma once

namespace aevb::report {

int report_main(int argc, char** argv);

}  // namespace aevb::report
