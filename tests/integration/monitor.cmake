# The energy monitor against real peers: Debian's grpcio (a real gRPC client), raw HTTP/2
# sockets, curl and promtool. Each group starts its own energy-monitor on free ports.
if(TARGET energy-monitor)
  foreach(group basic concurrency limits shutdown raw promtool launcher idle)
    add_test(NAME integration.monitor.${group}
             COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/monitor_grpcio.py ${group})
    set_tests_properties(integration.monitor.${group} PROPERTIES LABELS integration TIMEOUT 180
                         ENVIRONMENT "${IPW_TEST_ENV}")
  endforeach()
endif()
