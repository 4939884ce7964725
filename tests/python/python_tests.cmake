# The Python module python/aevb_model.py against the C++ tools (included from
# tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/). Skipped (77)
# without a python3 that has NumPy and h5py.
add_test(NAME python.aevb_model
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/python/aevb_model_test.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(python.aevb_model PROPERTIES LABELS "cli;python" SKIP_RETURN_CODE 77 TIMEOUT 120)
