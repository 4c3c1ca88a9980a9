# ipw run's tests: the real binary with the sim agent and against the scripted LLM server's agent,
# sandbox escapes, crash + resume (tests/integration/agent_cli.py). Skipped (77) with a message
# where bubblewrap cannot create a sandbox.
if(TARGET llm_test_server)
  add_test(NAME integration.agent.cli
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/agent_cli.py)
  # RUN_SERIAL: the fork-bomb limit counts every process of the sandbox user (nobody), so the
  # run-as-nobody checks of other tests running at the same time would share it.
  set_tests_properties(integration.agent.cli PROPERTIES LABELS integration TIMEOUT 900
                       RUN_SERIAL TRUE SKIP_RETURN_CODE 77 ENVIRONMENT "${IPW_TEST_ENV}")
endif()
