# The lab's web page (ipw lab serve) in headless Chromium against the real lab, the scripted LLM
# server and a fake powercap tree (tests/integration/lab_page_test.py). The API on its own is
# tests/unit/test_labweb_api.c.
add_test(NAME integration.lab_page
         COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/lab_page_test.py)
set_tests_properties(integration.lab_page PROPERTIES LABELS integration TIMEOUT 600
                     ENVIRONMENT "${IPW_TEST_ENV};IPW_NODE=${IPW_NODE}")
