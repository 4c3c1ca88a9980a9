# The wall-clock step fault library (LD_PRELOAD) of tests/integration/monitor_faults.py.
add_library(ipw_clock_step_shim MODULE ${CMAKE_CURRENT_LIST_DIR}/clock_step_shim.c)
target_link_libraries(ipw_clock_step_shim PRIVATE dl)
set_target_properties(ipw_clock_step_shim PROPERTIES PREFIX "lib" OUTPUT_NAME ipw_clock_step
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fakes)
