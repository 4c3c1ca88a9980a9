# The fleet deployment files (deploy/): Prometheus rules checked and unit-tested by promtool,
# the Kubernetes manifests and the Grafana dashboard checked against each other and the real
# monitor, and a real Prometheus server scraping two monitors through the recording rules.
find_program(IPW_PROMTOOL promtool)
find_program(IPW_PROMETHEUS prometheus)
set(IPW_DEPLOY_DIR ${CMAKE_SOURCE_DIR}/deploy)
if(IPW_PROMTOOL)
  add_test(NAME integration.deploy.promtool_check
           COMMAND ${IPW_PROMTOOL} check rules ${IPW_DEPLOY_DIR}/prometheus/ipw-rules.yml)
  add_test(NAME integration.deploy.promtool_test
           COMMAND ${IPW_PROMTOOL} test rules ipw-rules.test.yml
           WORKING_DIRECTORY ${IPW_DEPLOY_DIR}/prometheus/tests)
  set_tests_properties(integration.deploy.promtool_check integration.deploy.promtool_test
                       PROPERTIES LABELS integration TIMEOUT 60)
endif()
if(TARGET energy-monitor)
  foreach(group kubernetes grafana)
    add_test(NAME integration.deploy.${group}
             COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/deploy_check.py ${group})
    set_tests_properties(integration.deploy.${group} PROPERTIES LABELS integration TIMEOUT 120
      ENVIRONMENT "${IPW_TEST_ENV};IPW_FAKE_SYSFS=$<TARGET_FILE:ipw_fake_sysfs>")
  endforeach()
  if(IPW_PROMETHEUS)
    add_test(NAME integration.fleet.prometheus
             COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/fleet_prometheus.py)
    set_tests_properties(integration.fleet.prometheus PROPERTIES LABELS integration TIMEOUT 180
      ENVIRONMENT "${IPW_TEST_ENV};IPW_FAKE_SYSFS=$<TARGET_FILE:ipw_fake_sysfs>;IPW_PROMETHEUS=${IPW_PROMETHEUS}")
  endif()
endif()
