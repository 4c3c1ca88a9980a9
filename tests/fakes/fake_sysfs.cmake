# ipw-fake-sysfs: builds fake powercap trees (tests/support/fake_sysfs.c) for tests that run the
# ipw program itself with IPW_SYSFS_ROOT pointing at them.
add_executable(ipw_fake_sysfs ${CMAKE_CURRENT_SOURCE_DIR}/fakes/fake_sysfs_tool.c)
target_link_libraries(ipw_fake_sysfs PRIVATE ipwtest)
set_target_properties(ipw_fake_sysfs PROPERTIES OUTPUT_NAME ipw-fake-sysfs)
