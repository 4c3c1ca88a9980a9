# The failing-counter fault library (LD_PRELOAD) of tests/integration/monitor_faults.py.
add_library(ipw_eio_shim MODULE ${CMAKE_CURRENT_LIST_DIR}/eio_shim.c)
target_link_libraries(ipw_eio_shim PRIVATE dl)
set_target_properties(ipw_eio_shim PROPERTIES PREFIX "lib" OUTPUT_NAME ipw_eio
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fakes)
