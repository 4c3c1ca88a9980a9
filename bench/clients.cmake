# bench_clients talks to the scripted LLM server for its end-to-end figures. IPW_TEST_ENV is
# defined in tests/ (a sibling scope), so the server's path is passed here explicitly.
if(TARGET bench_clients AND TARGET llm_test_server)
  add_dependencies(bench_clients llm_test_server)
  set_tests_properties(bench.bench_clients PROPERTIES ENVIRONMENT
    "IPW_TEST_BINARY_DIR=${CMAKE_BINARY_DIR};IPW_LLM_TEST_SERVER=$<TARGET_FILE:llm_test_server>;IPW_LOG_LEVEL=warn")
endif()
