# Packaging: the Debian package built by CPack and installed into a fresh root (dpkg --root,
# chroot), and `cmake --install` into an unwritable prefix refused with a clear message.
# The package test installs the release build: a sanitizer build's package would depend on
# libasan, and LeakSanitizer cannot read /proc inside the chroot, so it is skipped there.
find_program(IPW_DPKG dpkg)
if(IPW_DPKG AND TARGET energy-monitor AND NOT IPW_SANITIZE)
  add_test(NAME integration.package.deb
           COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/package_deb.py)
  set_tests_properties(integration.package.deb PROPERTIES LABELS integration TIMEOUT 600
                       ENVIRONMENT "${IPW_TEST_ENV}")
endif()
add_test(NAME integration.package.unwritable_prefix
         COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/package_deb.py
                 unwritable-prefix)
set_tests_properties(integration.package.unwritable_prefix PROPERTIES LABELS integration
                     TIMEOUT 120 ENVIRONMENT "${IPW_TEST_ENV}")
add_test(NAME integration.package.generated_docs
         COMMAND ${IPW_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/package_deb.py
                 generated-docs)
set_tests_properties(integration.package.generated_docs PROPERTIES LABELS integration
                     TIMEOUT 120 ENVIRONMENT "${IPW_TEST_ENV}")
