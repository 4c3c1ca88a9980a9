# ipw simulate's predict modes (issue 14): the roofline fallback, calibrate, --from-run,
# sweeps and plots, end to end through the command line (tests/integration/predict_check.sh).
add_test(NAME integration.simulate_predict
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/predict_check.sh $<TARGET_FILE:ipw>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/predict-check)
set_tests_properties(integration.simulate_predict PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "${IPW_TEST_ENV}")

# the acceptance check on the measured path: fake NVML + fake RAPL runs of the scripted server,
# calibrated on one run, a held-out run predicted (tests/integration/test_predict_acceptance.c)
if(TARGET ipw_gpu_testutil AND TARGET llm_test_server)
  add_executable(test_predict_acceptance ${CMAKE_CURRENT_LIST_DIR}/test_predict_acceptance.c)
  target_link_libraries(test_predict_acceptance PRIVATE ipw_gpu_testutil ipwtest)
  add_dependencies(test_predict_acceptance fake_nvml llm_test_server)
  add_test(NAME integration.predict.acceptance COMMAND test_predict_acceptance)
  # alone: its energies are wall time at a fixed power, which concurrent tests stretch
  set_tests_properties(integration.predict.acceptance PROPERTIES LABELS integration RUN_SERIAL ON
                       TIMEOUT 300 ENVIRONMENT "${IPW_TEST_ENV}")
endif()
