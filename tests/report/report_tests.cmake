# aevb-report (docs/report.md) end to end on tiny real runs (tests/report/report_test.sh):
#   report.cli      the command line, exit codes and JSON lines, the page's content
#   report.browser  the pages in headless Chromium (skipped, exit 77, without chromium)
# Both train two tiny models first (a few seconds) and use the built executables.
foreach(mode cli browser)
  add_test(NAME report.${mode} COMMAND ${CMAKE_CURRENT_LIST_DIR}/report_test.sh ${mode} ${CMAKE_BINARY_DIR})
  set_tests_properties(report.${mode} PROPERTIES LABELS "cli;report" TIMEOUT 300)
endforeach()
set_tests_properties(report.browser PROPERTIES SKIP_RETURN_CODE 77)
