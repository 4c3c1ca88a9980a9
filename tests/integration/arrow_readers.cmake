# Independent readers of our Arrow IPC output: a small C program writes a sample run directory
# (records.jsonl, data-00000-of-00001.arrow, dataset_info.json, state.json, edge streams), then
# apache-arrow (JS) and duckdb-wasm (Arrow C++ inside) read it back and compare with the records.
add_executable(write_sample_run ${CMAKE_CURRENT_LIST_DIR}/write_sample_run.c)
target_link_libraries(write_sample_run PRIVATE ipwtest)

set(IPW_SAMPLE_RUN_DIR ${CMAKE_BINARY_DIR}/arrow-sample-run)
add_test(NAME integration.arrow_sample_run
         COMMAND write_sample_run ${IPW_SAMPLE_RUN_DIR} 2500)
set_tests_properties(integration.arrow_sample_run PROPERTIES
                     LABELS integration TIMEOUT 120 FIXTURES_SETUP arrow_sample_run
                     ENVIRONMENT "${IPW_TEST_ENV}")

if(IPW_NODE)
  set(_ipw_node_dir ${CMAKE_CURRENT_LIST_DIR}/node)
  foreach(check arrow_js duckdb)
    if(check STREQUAL "arrow_js")
      set(_script ${_ipw_node_dir}/check_arrow_js.mjs)
    else()
      set(_script ${_ipw_node_dir}/check_duckdb.cjs)
    endif()
    add_test(NAME integration.arrow_reader_${check}
             COMMAND ${IPW_NODE} ${_script} ${IPW_SAMPLE_RUN_DIR})
    set_tests_properties(integration.arrow_reader_${check} PROPERTIES
                         LABELS integration TIMEOUT 300 FIXTURES_REQUIRED arrow_sample_run
                         ENVIRONMENT "${IPW_TEST_ENV};IPW_EXPECT_MODELS=2")
  endforeach()
else()
  message(WARNING "node not found: the Arrow independent-reader tests (apache-arrow, "
                  "duckdb-wasm) are not registered; install nodejs and run "
                  "scripts/install-test-npm.sh")
endif()

# pyarrow + HuggingFace datasets: the real load_from_disk. Debian 12 packages neither (and PyPI
# is out of reach here), so the check is registered only where the test Python can import both.
execute_process(COMMAND ${IPW_PYTHON} -c "import pyarrow, datasets"
                RESULT_VARIABLE _ipw_has_hf OUTPUT_QUIET ERROR_QUIET)
if(_ipw_has_hf EQUAL 0)
  add_test(NAME integration.arrow_reader_hf_datasets
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/python/check_hf_datasets.py
                   ${IPW_SAMPLE_RUN_DIR})
  set_tests_properties(integration.arrow_reader_hf_datasets PROPERTIES
                       LABELS integration TIMEOUT 300 FIXTURES_REQUIRED arrow_sample_run
                       ENVIRONMENT "${IPW_TEST_ENV}")
else()
  message(STATUS "pyarrow/datasets not importable by ${IPW_PYTHON}: "
                 "integration.arrow_reader_hf_datasets not registered")
endif()
