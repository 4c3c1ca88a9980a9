# What a new user trips over (issue 10): each case driven against the real binary, the scripted
# LLM server and a scripted judge, one check per defect that was found.
if(TARGET llm_test_server AND TARGET energy-monitor)
  add_test(NAME integration.newuser
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/newuser_cli.py)
  set_tests_properties(integration.newuser PROPERTIES LABELS integration TIMEOUT 600
                       ENVIRONMENT "${IPW_TEST_ENV}")
endif()
