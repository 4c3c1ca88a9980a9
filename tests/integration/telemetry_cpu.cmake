# `ipw telemetry --local` with the RAPL collector on a fake powercap tree whose counters a
# thread advances, the same as root-only counters seen by an ordinary user, and the macOS
# collector on the fake powermetrics.
add_test(NAME integration.telemetry_cpu
         COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/telemetry_cpu.py)
set_tests_properties(integration.telemetry_cpu PROPERTIES
  LABELS integration TIMEOUT 120
  ENVIRONMENT "${IPW_TEST_ENV};IPW_FAKE_SYSFS=$<TARGET_FILE:ipw_fake_sysfs>")
