# bench_clients talks to the scripted LLM server for its end-to-end figures.
if(TARGET bench_clients AND TARGET llm_test_server)
  add_dependencies(bench_clients llm_test_server)
  set_tests_properties(bench.bench_clients PROPERTIES ENVIRONMENT
    "${IPW_TEST_ENV};IPW_LLM_TEST_SERVER=$<TARGET_FILE:llm_test_server>")
endif()
