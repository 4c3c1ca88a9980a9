# ipw simulate's predict modes (issue 14): the roofline fallback, calibrate, --from-run,
# sweeps and plots, end to end through the command line (tests/integration/predict_check.sh).
add_test(NAME integration.simulate_predict
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/predict_check.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/predict-check)
set_tests_properties(integration.simulate_predict PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "${IPW_TEST_ENV}")
