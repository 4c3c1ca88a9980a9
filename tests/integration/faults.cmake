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
# Faults under the telemetry (tests/integration/monitor_faults.py): a real energy-monitor killed
# and restarted under a real `ipw profile --monitor`; the wall clock stepped under the monitor
# and the profiler (the LD_PRELOAD library clock_step_shim); a RAPL counter failing with EIO
# (eio_shim on a fake powercap tree); the GPU lost and nvmlInit failing
# (fake NVML) as `ipw telemetry` shows them.
if(TARGET energy-monitor AND TARGET fake_nvml AND TARGET llm_test_server
   AND TARGET ipw_clock_step_shim AND TARGET ipw_eio_shim AND TARGET ipw_fake_sysfs)
  foreach(group restart clock rapl gpu)
    add_test(NAME integration.faults.monitor_${group}
             COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/monitor_faults.py ${group})
    set_tests_properties(integration.faults.monitor_${group} PROPERTIES LABELS integration
                         TIMEOUT 300 ENVIRONMENT
                         "${IPW_TEST_ENV};IPW_FAKE_SYSFS=$<TARGET_FILE:ipw_fake_sysfs>")
  endforeach()
endif()
