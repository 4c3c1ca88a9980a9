# Runs first at install time: an install prefix we cannot write to fails with one sentence that
# says what to do, instead of CMake's error about the first file it could not copy.
install(CODE [[
  set(_ipw_dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
  set(_ipw_dir "${_ipw_dest}")
  while(NOT EXISTS "${_ipw_dir}")
    get_filename_component(_ipw_dir "${_ipw_dir}" DIRECTORY)
  endwhile()
  execute_process(COMMAND test -w "${_ipw_dir}" RESULT_VARIABLE _ipw_not_writable)
  if(_ipw_not_writable)
    message(FATAL_ERROR "ipw: cannot install into ${_ipw_dest}: ${_ipw_dir} is not writable by "
                        "this user. Run the install with sudo, or choose a prefix you own: "
                        "cmake --install build --prefix $HOME/.local")
  endif()
]])
