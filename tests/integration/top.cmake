# `ipw top` in a real terminal (tmux: send-keys, capture-pane), as a fleet view of real energy
# monitors, and as plain lines into a pipe.
if(TARGET energy-monitor)
  foreach(group local fleet plain)
    add_test(NAME integration.top.${group}
             COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/top_tmux.py ${group})
    set_tests_properties(integration.top.${group} PROPERTIES LABELS integration TIMEOUT 120
      ENVIRONMENT "${IPW_TEST_ENV};IPW_FAKE_SYSFS=$<TARGET_FILE:ipw_fake_sysfs>")
  endforeach()
endif()
