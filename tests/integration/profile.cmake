# ipw profile's own tests: energy truth end to end (in process, fake NVML + fake RAPL + the
# scripted LLM server), and the command-line behaviour (crash + resume, bad input) driven by a
# Python script against the real binary.
if(TARGET ipw_gpu_testutil AND TARGET llm_test_server)
  add_executable(test_profile_e2e ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_profile_e2e.c)
  target_link_libraries(test_profile_e2e PRIVATE ipw_gpu_testutil ipwtest)
  add_dependencies(test_profile_e2e fake_nvml llm_test_server)
  add_test(NAME integration.profile.energy_truth COMMAND test_profile_e2e)
  set_tests_properties(integration.profile.energy_truth PROPERTIES LABELS integration
                       TIMEOUT 300 ENVIRONMENT "${IPW_TEST_ENV}")
endif()

if(TARGET llm_test_server AND TARGET energy-monitor)
  add_test(NAME integration.profile.cli
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/profile_cli.py)
  set_tests_properties(integration.profile.cli PROPERTIES LABELS integration TIMEOUT 600
                       ENVIRONMENT "${IPW_TEST_ENV};IPW_NODE=${IPW_NODE}")
endif()
