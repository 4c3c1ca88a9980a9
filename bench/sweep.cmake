# The 20-point simulate sweep on the 300-request trace (bench/sweep.sh): prints its wall time.
add_test(NAME bench.simulate_sweep
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sweep.sh $<TARGET_FILE:ipw> ${CMAKE_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/bench-sweep)
set_tests_properties(bench.simulate_sweep PROPERTIES LABELS bench TIMEOUT 300
                     ENVIRONMENT "${IPW_TEST_ENV}")
