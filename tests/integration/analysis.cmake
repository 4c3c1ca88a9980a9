# Analysis (ipw analyze / plot / report) against independent peers: numpy for the numbers, a
# scripted OpenAI-compatible judge server, PNG/SVG parsers, and headless Chromium.
set(_ipw_analysis_dir ${CMAKE_CURRENT_SOURCE_DIR}/integration/analysis)
foreach(t numbers judge plots cli_errors report)
  add_test(NAME analysis.${t}
           COMMAND ${IPW_PYTHON} ${_ipw_analysis_dir}/${t}_test.py)
  set_tests_properties(analysis.${t} PROPERTIES LABELS integration TIMEOUT 600
                       ENVIRONMENT "${IPW_TEST_ENV};IPW_NODE=${IPW_NODE}")
endforeach()
