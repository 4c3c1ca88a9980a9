# The cpu-model collector through the real programs on a fake /proc (IPW_PROCFS_ROOT).
if(TARGET energy-monitor)
  add_test(NAME integration.cpu_model
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/cpu_model_cli.py)
  set_tests_properties(integration.cpu_model PROPERTIES LABELS integration TIMEOUT 180
                       ENVIRONMENT "${IPW_TEST_ENV}")
endif()
