if(TARGET bench_lab AND TARGET llm_test_server)
  add_dependencies(bench_lab llm_test_server)
  set_tests_properties(bench.bench_lab PROPERTIES ENVIRONMENT
    "${IPW_TEST_ENV};IPW_LLM_TEST_SERVER=$<TARGET_FILE:llm_test_server>")
endif()
