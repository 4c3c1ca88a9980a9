# The GPU collector benchmark runs against the fake vendor libraries of tests/fakes. It needs
# to know where the build tree is (IPW_TEST_ENV is scoped to tests/, so it is set here).
if(TARGET bench_gpu_collectors AND TARGET ipw_gpu_testutil)
  target_link_libraries(bench_gpu_collectors PRIVATE ipw_gpu_testutil)
  add_dependencies(bench_gpu_collectors fake_nvml fake_rocm)
  set_tests_properties(bench.bench_gpu_collectors PROPERTIES ENVIRONMENT
                       "IPW_TEST_BINARY_DIR=${CMAKE_BINARY_DIR};IPW_TEST_SOURCE_DIR=${CMAKE_SOURCE_DIR};IPW_LOG_LEVEL=warn")
endif()
