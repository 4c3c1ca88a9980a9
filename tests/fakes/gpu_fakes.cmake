# Fake NVML and ROCm SMI libraries (shared objects exporting the real symbol names) and the
# waveform/config code that both the fakes and the GPU tests use. Tests load the fakes through
# IPW_NVML_LIBRARY / IPW_ROCM_SMI_LIBRARY, the same dlopen path production uses.
set(IPW_FAKES_DIR ${CMAKE_CURRENT_LIST_DIR})
set(IPW_FAKES_OUT ${CMAKE_BINARY_DIR}/tests/fakes)

add_library(ipw_fake_support STATIC ${IPW_FAKES_DIR}/waveform.c ${IPW_FAKES_DIR}/fake_config.c)
set_target_properties(ipw_fake_support PROPERTIES POSITION_INDEPENDENT_CODE ON
                      C_VISIBILITY_PRESET hidden)
target_include_directories(ipw_fake_support PUBLIC ${IPW_FAKES_DIR})
target_link_libraries(ipw_fake_support PUBLIC m)

# name: target; dir: output folder under tests/fakes; file: library file name; defs: variant
function(ipw_gpu_fake name src dir file defs)
  add_library(${name} SHARED ${src})
  target_link_libraries(${name} PRIVATE ipw_fake_support)
  if(defs)
    target_compile_definitions(${name} PRIVATE ${defs})
  endif()
  string(REGEX REPLACE "^lib" "" stem "${file}")
  string(REGEX MATCH "\\.so.*$" suffix "${stem}")
  string(REGEX REPLACE "\\.so.*$" "" stem "${stem}")
  set_target_properties(${name} PROPERTIES C_VISIBILITY_PRESET hidden PREFIX "lib"
                        OUTPUT_NAME ${stem} SUFFIX "${suffix}"
                        LIBRARY_OUTPUT_DIRECTORY ${IPW_FAKES_OUT}/${dir})
endfunction()

ipw_gpu_fake(fake_nvml ${IPW_FAKES_DIR}/fake_nvml.c nvml libnvidia-ml.so.1 "")
ipw_gpu_fake(fake_nvml_legacy ${IPW_FAKES_DIR}/fake_nvml.c nvml-legacy libnvidia-ml.so.1
             FAKE_NVML_LEGACY)
ipw_gpu_fake(fake_nvml_nosym ${IPW_FAKES_DIR}/fake_nvml.c nvml-nosym libnvidia-ml.so.1
             FAKE_NVML_NO_COUNT)
ipw_gpu_fake(fake_rocm ${IPW_FAKES_DIR}/fake_rocm_smi.c rocm librocm_smi64.so "")
ipw_gpu_fake(fake_rocm_523 ${IPW_FAKES_DIR}/fake_rocm_smi.c rocm-523 librocm_smi64.so.1
             FAKE_ROCM_523)
ipw_gpu_fake(fake_rocm_nosym ${IPW_FAKES_DIR}/fake_rocm_smi.c rocm-nosym librocm_smi64.so
             FAKE_ROCM_NO_COUNT)
set(IPW_GPU_FAKE_TARGETS fake_nvml fake_nvml_legacy fake_nvml_nosym fake_rocm fake_rocm_523
    fake_rocm_nosym)

add_library(ipw_gpu_testutil STATIC ${IPW_FAKES_DIR}/gpu_test_util.c)
target_link_libraries(ipw_gpu_testutil PUBLIC ipw_fake_support ipwtest)

# The GPU unit tests compute the truth with the fakes' own waveform code, and need the fakes
# built before they run.
foreach(t test_nvml test_rocm_smi test_gpu_energy_truth)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE ipw_gpu_testutil)
    add_dependencies(${t} ${IPW_GPU_FAKE_TARGETS})
  endif()
endforeach()
