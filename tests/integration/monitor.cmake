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
# The soak's CI version (bench/soak_monitor.py, label soak): 60 s of 64 clients joining and
# leaving (grpcio and ipw telemetry), 8 stalled readers, Prometheus scraping every second; fails
# on a lost reading, fds not back at rest, or RSS moving more than the script's bound. A stream
# queue of 256 readings (12.8 s): a test client starved for 3 s on a loaded machine is still a
# client that keeps up; the stalled readers (30-45 s) overflow it all the same.
# Under AddressSanitizer the RSS bound is not checked: its quarantine keeps freed memory (up to
# 256 MiB), so RSS measures the sanitizer, not the monitor; lost readings and fds still are.
if(TARGET energy-monitor AND TARGET ipw)
  set(IPW_SOAK_RSS_ARGS)
  if(IPW_SANITIZE)
    set(IPW_SOAK_RSS_ARGS --rss-bound-kib 0)
  endif()
  add_test(NAME soak.monitor
           COMMAND ${IPW_PYTHON} ${CMAKE_SOURCE_DIR}/bench/soak_monitor.py --duration 60 --stream-queue 256 --check ${IPW_SOAK_RSS_ARGS})
  set_tests_properties(soak.monitor PROPERTIES LABELS soak TIMEOUT 300
                       ENVIRONMENT "${IPW_TEST_ENV}")
endif()
# energy-monitor must not link the inference clients: cli_common.c once pulled them in (libcurl
# with its TLS, Kerberos and LDAP libraries), 3.5 MiB of the monitor's 8.7 MiB RSS.
if(TARGET energy-monitor)
  find_program(IPW_READELF readelf)
  # what a release build links; a sanitizer build's linking is not what users run
  if(IPW_READELF AND NOT IPW_SANITIZE)
    add_test(NAME integration.monitor.footprint
             COMMAND sh -c "! ${IPW_READELF} -d \"$0\" | grep -E 'NEEDED.*(libcurl|libcairo|libsqlite)'"
                     $<TARGET_FILE:energy-monitor>)
    set_tests_properties(integration.monitor.footprint PROPERTIES LABELS integration)
  endif()
endif()
