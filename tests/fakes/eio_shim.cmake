# The failing-counter fault library (LD_PRELOAD) of tests/integration/monitor_faults.py.
add_library(ipw_eio_shim MODULE ${CMAKE_CURRENT_LIST_DIR}/eio_shim.c)
target_link_libraries(ipw_eio_shim PRIVATE dl)
set_target_properties(ipw_eio_shim PROPERTIES PREFIX "lib" OUTPUT_NAME ipw_eio
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fakes)
# Built without sanitizers even in a sanitizer build: it is preloaded into programs that are not
# (date) and before the sanitizer's runtime into ours (verify_asan_link_order=0 in the test).
target_compile_options(ipw_eio_shim PRIVATE -fno-sanitize=all)
target_link_options(ipw_eio_shim PRIVATE -fno-sanitize=all)
