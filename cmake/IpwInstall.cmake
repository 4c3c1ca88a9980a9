# Where `cmake --install` and the Debian package put things (docs/install.md): programs in bin,
# data in share/ipw (found there by ipw_datadir_find through <exe>/../share/ipw), man pages and
# shell completions generated from the programs' own option tables, the systemd unit, the udev
# rule and sysusers entry, the fleet files and the docs.
include(GNUInstallDirs)

# --- man pages and completions: `ipw __docs` renders them from the option tables -----------------
set(IPW_DOCS_GEN ${CMAKE_BINARY_DIR}/gen-docs)
find_program(IPW_GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT ${IPW_DOCS_GEN}/stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${IPW_DOCS_GEN}/man1 ${IPW_DOCS_GEN}/completions
  # a command whose help cannot be rendered loses its page with a warning here (the rest is
  # written) and fails integration.package.generated_docs, rather than breaking everyone's build
  COMMAND sh -c "'$<TARGET_FILE:ipw>' __docs '${IPW_DOCS_GEN}' || echo 'warning: ipw __docs could not render every command (see above)' >&2"
  # Debian policy: man pages gzipped with -9n (no name or time stamp: reproducible)
  COMMAND sh -c "${IPW_GZIP} -9nkf ${IPW_DOCS_GEN}/man1/*.1"
  COMMAND ${CMAKE_COMMAND} -E touch ${IPW_DOCS_GEN}/stamp
  DEPENDS ipw
  COMMENT "man pages and shell completions from the option tables")
add_custom_target(ipw_docs ALL DEPENDS ${IPW_DOCS_GEN}/stamp)

install(DIRECTORY ${IPW_DOCS_GEN}/man1/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        FILES_MATCHING PATTERN "*.1.gz")
install(FILES ${IPW_DOCS_GEN}/completions/ipw ${IPW_DOCS_GEN}/completions/energy-monitor
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# Debian and Ubuntu's zsh reads vendor-completions; elsewhere use share/zsh/site-functions.
set(IPW_ZSH_COMPLETION_DIR ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions CACHE STRING
    "where zsh completion functions are installed, relative to the prefix")
install(FILES ${IPW_DOCS_GEN}/completions/_ipw ${IPW_DOCS_GEN}/completions/_energy-monitor
        DESTINATION ${IPW_ZSH_COMPLETION_DIR})

# --- data ---------------------------------------------------------------------------------------
install(DIRECTORY ${CMAKE_SOURCE_DIR}/data/ DESTINATION ${CMAKE_INSTALL_DATADIR}/ipw)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/deploy/kubernetes ${CMAKE_SOURCE_DIR}/deploy/prometheus
        ${CMAKE_SOURCE_DIR}/deploy/grafana DESTINATION ${CMAKE_INSTALL_DATADIR}/ipw/deploy)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- system integration -------------------------------------------------------------------------
# The unit names the installed energy-monitor, so it is written at install time, when the
# prefix is known (cpack installs with its own prefix, /usr).
install(CODE "
  set(IPW_UNIT_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/deploy/systemd/ipw-energy-monitor.service.in\"
                 \"${CMAKE_BINARY_DIR}/gen-docs/ipw-energy-monitor.service\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/gen-docs/ipw-energy-monitor.service
        DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/ipw.sysusers DESTINATION lib/sysusers.d
        RENAME ipw.conf)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/udev/60-ipw-rapl.rules DESTINATION lib/udev/rules.d)

# --- the Debian package: cpack -G DEB -> ipw_<version>_amd64.deb --------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ipw)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ipw maintainers <ipw@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "energy of LLM inference: profiler, energy monitor and intelligence per joule")
set(CPACK_PACKAGE_DESCRIPTION
    "ipw measures the energy of every query an LLM server answers (NVIDIA, AMD, Intel/AMD RAPL
or Apple counters), scores the answers and reports intelligence per joule and per
watt. energy-monitor streams a machine's power over gRPC and serves Prometheus metrics.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends computed from the programs' shared libraries by dpkg-shlibdeps, so they are exactly
# what the binaries link (checked by the integration.package test).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# groupadd in postinst; NVML and ROCm SMI are loaded at run time when present.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, nvidia-smi | rocm-smi")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/;node_modules")
include(CPack)
