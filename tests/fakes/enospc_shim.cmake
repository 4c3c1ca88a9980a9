# The full-disk fault library (LD_PRELOAD) of tests/integration/faults_cli.py.
add_library(ipw_enospc_shim MODULE ${CMAKE_CURRENT_LIST_DIR}/enospc_shim.c)
target_link_libraries(ipw_enospc_shim PRIVATE dl Threads::Threads)
set_target_properties(ipw_enospc_shim PROPERTIES PREFIX "lib" OUTPUT_NAME ipw_enospc
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fakes)
