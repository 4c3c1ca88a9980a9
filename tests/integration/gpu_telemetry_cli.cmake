# `ipw telemetry --local` run as a program against the fake NVML / ROCm SMI libraries, output
# checked by a Python script: the whole path from dlopen to the printed JSON.
foreach(mode nvidia nvidia-default-soname amd missing)
  add_test(NAME integration.gpu_telemetry_cli.${mode}
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/gpu_telemetry_cli.py ${mode})
  set_tests_properties(integration.gpu_telemetry_cli.${mode} PROPERTIES LABELS integration
                       TIMEOUT 120 ENVIRONMENT "${IPW_TEST_ENV}")
endforeach()
