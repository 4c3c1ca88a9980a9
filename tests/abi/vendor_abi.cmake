# Cross-checks of our hand-written NVML / ROCm SMI declarations against the vendors' headers
# (tests/abi/*_vs_vendor.c). The project never needs those headers, so the checks are ctest
# cases that run the compiler in syntax-only mode where a header is found, and are reported as
# skipped elsewhere; a mismatch fails the test, naming the declaration, without breaking the
# build. Point IPW_NVML_VENDOR_INCLUDE / IPW_ROCM_SMI_VENDOR_INCLUDE at another header to check
# against it.
set(IPW_ABI_DIR ${CMAKE_CURRENT_LIST_DIR})

find_path(IPW_NVML_VENDOR_INCLUDE nvml.h
          HINTS $ENV{CUDA_HOME}/include $ENV{CUDA_PATH}/include
          PATHS /usr/local/cuda/include /usr/local/cuda/targets/x86_64-linux/include
                /opt/cuda/include /usr/include
          DOC "directory holding NVIDIA's nvml.h, for the abi.nvml_vs_vendor test")
find_path(IPW_ROCM_SMI_VENDOR_INCLUDE rocm_smi/rocm_smi.h
          HINTS $ENV{ROCM_PATH}/include
          PATHS /opt/rocm/include /usr/include
          DOC "directory holding AMD's rocm_smi/rocm_smi.h, for the abi.rocm_smi_vs_vendor test")

# name: test name; src: the check; incvar: the variable naming the vendor include dir;
# defs: extra -D flags
function(ipw_vendor_abi_test name src incvar defs)
  set(inc "${${incvar}}")
  if(inc)
    add_test(NAME abi.${name}
             COMMAND ${CMAKE_C_COMPILER} -std=c11 -fsyntax-only -Wall -Wextra -Werror ${defs}
                     -isystem ${inc} -I${CMAKE_SOURCE_DIR}/src/telemetry ${src})
  else()
    add_test(NAME abi.${name}
             COMMAND ${CMAKE_COMMAND} -E echo "SKIP: vendor header not found (set ${incvar})")
    set_tests_properties(abi.${name} PROPERTIES SKIP_REGULAR_EXPRESSION "SKIP:")
  endif()
  set_tests_properties(abi.${name} PROPERTIES LABELS "abi;unit" TIMEOUT 60)
endfunction()

# ROCm 6 added rsmi_dev_power_get and RSMI_POWER_TYPE; compare them where the header has them.
set(IPW_ROCM_ABI_DEFS "")
if(IPW_ROCM_SMI_VENDOR_INCLUDE)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_INCLUDES ${IPW_ROCM_SMI_VENDOR_INCLUDE})
  check_c_source_compiles("#include <rocm_smi/rocm_smi.h>
int main(void) {
  RSMI_POWER_TYPE t = RSMI_CURRENT_POWER;
  return sizeof(rsmi_dev_power_get(0, 0, &t)) == 4 ? 0 : 1; /* unevaluated: nothing to link */
}"
                          IPW_ROCM_SMI_VENDOR_HAS_POWER_TYPE)
  unset(CMAKE_REQUIRED_INCLUDES)
  if(IPW_ROCM_SMI_VENDOR_HAS_POWER_TYPE)
    set(IPW_ROCM_ABI_DEFS -DIPW_VENDOR_HAS_POWER_TYPE)
  endif()
endif()

ipw_vendor_abi_test(nvml_vs_vendor ${IPW_ABI_DIR}/nvml_vs_vendor.c IPW_NVML_VENDOR_INCLUDE "")
ipw_vendor_abi_test(rocm_smi_vs_vendor ${IPW_ABI_DIR}/rocm_smi_vs_vendor.c
                    IPW_ROCM_SMI_VENDOR_INCLUDE "${IPW_ROCM_ABI_DEFS}")
