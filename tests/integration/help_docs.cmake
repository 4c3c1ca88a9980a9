# Every command's --help against docs/commands/<cmd>.md, both ways (flags taken but not
# documented, documented but not taken), and the modes a new user must be able to find.
if(TARGET energy-monitor)
  add_test(NAME integration.help_docs
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/help_docs_check.py)
  set_tests_properties(integration.help_docs PROPERTIES LABELS integration TIMEOUT 120
                       ENVIRONMENT "${IPW_TEST_ENV}")
endif()
