# The scripted LLM server (tests/servers/llm_test_server.c) that the client tests, the
# benchmark and the profiler's end-to-end tests talk to over real sockets. It is built at a
# fixed place, ${CMAKE_BINARY_DIR}/tests/llm_test_server, which tests/support/llm_server.c finds.
add_executable(llm_test_server ${CMAKE_CURRENT_SOURCE_DIR}/servers/llm_test_server.c)
target_link_libraries(llm_test_server PRIVATE ipwlib)
set_target_properties(llm_test_server PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                                 ${CMAKE_BINARY_DIR}/tests)
foreach(t test_client_ollama test_client_openai test_http_stream)
  if(TARGET ${t})
    add_dependencies(${t} llm_test_server)
  endif()
endforeach()
