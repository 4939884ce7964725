// aevb-report: a self-contained HTML report of aevb-train run directories. No
// MPI. Usage and exit codes: aevb-report --help, docs/report.md.
#include "aevb/report/report.hpp"

int main(int argc, char** argv) { return aevb::report::report_main(argc, argv); }
