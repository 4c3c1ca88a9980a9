# Faults from the outside (tests/integration/faults_cli.py): the disk full under each file a run
# writes (the ENOSPC library of tests/fakes), SIGKILL at 50 random points of ipw profile and of
# ipw lab run. IPW_FAULT_KILLS=N changes the number of kill points.
if(TARGET ipw_enospc_shim)
  add_test(NAME integration.faults
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/faults_cli.py)
  set_tests_properties(integration.faults PROPERTIES LABELS integration TIMEOUT 900
                       ENVIRONMENT
                       "${IPW_TEST_ENV};IPW_ENOSPC_SHIM=$<TARGET_FILE:ipw_enospc_shim>")
endif()
