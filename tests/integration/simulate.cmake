# ipw simulate: the reference output of the original simulator reproduced byte for byte, and
# every bad-input message (tests/integration/simulate_check.sh).
add_test(NAME integration.simulate_reference
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/simulate_check.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/simulate-check)
set_tests_properties(integration.simulate_reference PROPERTIES LABELS integration TIMEOUT 120
                     ENVIRONMENT "${IPW_TEST_ENV}")

# pipeline parallelism (and TP x PP) checked by hand against the single-stage run, and
# invariants of the ShareGPT trace (tests/integration/simulate_parallel.sh)
add_test(NAME integration.simulate_parallel
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/simulate_parallel.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/simulate-parallel)
set_tests_properties(integration.simulate_parallel PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "${IPW_TEST_ENV}")

# PIM attention offloading with and without sub-batch interleaving, checked by hand against
# the single-instance numbers, and its bad-input messages (tests/integration/simulate_pim.sh)
add_test(NAME integration.simulate_pim
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/simulate_pim.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/simulate-pim)
set_tests_properties(integration.simulate_pim PROPERTIES LABELS integration TIMEOUT 120
                     ENVIRONMENT "${IPW_TEST_ENV}")

# data-parallel groups checked by hand against the single-instance run, ShareGPT invariants
# (tests/integration/simulate_dp.sh)
add_test(NAME integration.simulate_dp
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/simulate_dp.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/simulate-dp)
set_tests_properties(integration.simulate_dp PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "${IPW_TEST_ENV}")

# weights on CPU or CXL memory through the serialized memory queues, checked by hand
# (tests/integration/simulate_memq.sh)
add_test(NAME integration.simulate_memq
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/simulate_memq.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/simulate-memq)
set_tests_properties(integration.simulate_memq PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "${IPW_TEST_ENV}")
