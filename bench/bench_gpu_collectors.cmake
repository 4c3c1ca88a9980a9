# The GPU collector benchmark runs against the fake vendor libraries of tests/fakes.
if(TARGET bench_gpu_collectors AND TARGET ipw_gpu_testutil)
  target_link_libraries(bench_gpu_collectors PRIVATE ipw_gpu_testutil)
  add_dependencies(bench_gpu_collectors fake_nvml fake_rocm)
endif()
