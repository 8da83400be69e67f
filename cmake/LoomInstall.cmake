# cmake/LoomInstall.cmake — loom as an installed library (included from the top CMakeLists.txt after the
# modules and apps are declared):
#   libloom.so.<ver>  one shared library with every module (the module static libraries linked whole-archive;
#                     they are position-independent, CMAKE_POSITION_INDEPENDENT_CODE), SONAME libloom.so.<major>
#   libloom.a         one combined archive of every module archive (ar MRI script)
#   include/loom/     the public headers only (src/<module>/*.h stay private)
#   lib/pkgconfig/loom.pc, lib/cmake/loom/loomConfig.cmake + loomConfigVersion.cmake (target loom::loom),
#   bin/loom-*        the apps (LOOM_BUILD_APPS)
# New modules in LOOM_MODULES are picked up here without an edit.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LOOM_SOVERSION ${PROJECT_VERSION_MAJOR})
set(loom_module_targets)
foreach(module ${LOOM_MODULES})
  list(APPEND loom_module_targets loom_${module})
endforeach()

# ---- libloom.a: the module archives merged into one (object names may repeat across modules: MRI keeps both)
set(loom_mri "create ${PROJECT_BINARY_DIR}/lib/libloom.a\n")
foreach(t ${loom_module_targets})
  string(APPEND loom_mri "addlib $<TARGET_FILE:${t}>\n")
endforeach()
string(APPEND loom_mri "save\nend\n")
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/libloom.mri CONTENT "${loom_mri}")
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/lib/libloom.a
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/lib
  COMMAND ${CMAKE_COMMAND} -E rm -f ${PROJECT_BINARY_DIR}/lib/libloom.a
  COMMAND sh -c "'${CMAKE_AR}' -M < '${PROJECT_BINARY_DIR}/libloom.mri'"
  DEPENDS ${loom_module_targets} ${PROJECT_BINARY_DIR}/libloom.mri
  COMMENT "Merging the module archives into libloom.a" VERBATIM)
if(LOOM_TOP_LEVEL)
  set(loom_all ALL)
endif()
add_custom_target(loom_static_archive ${loom_all} DEPENDS ${PROJECT_BINARY_DIR}/lib/libloom.a)

# ---- libloom.so
file(WRITE ${PROJECT_BINARY_DIR}/loom_shared.c "/* libloom.so: every loom module, linked whole-archive (cmake/LoomInstall.cmake) */\n")
add_library(loom_shared SHARED ${PROJECT_BINARY_DIR}/loom_shared.c)
# every object of the combined archive, then the modules' own dependencies (through `loom`; the module
# archives after it add nothing, all their symbols are defined by then)
target_link_libraries(loom_shared PRIVATE -Wl,--whole-archive ${PROJECT_BINARY_DIR}/lib/libloom.a
                      -Wl,--no-whole-archive loom)
add_dependencies(loom_shared loom_static_archive)
set_property(TARGET loom_shared APPEND PROPERTY LINK_DEPENDS ${PROJECT_BINARY_DIR}/lib/libloom.a)
target_link_libraries(loom_shared PUBLIC OpenMP::OpenMP_C)
target_include_directories(loom_shared INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                 $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(loom_shared PROPERTIES OUTPUT_NAME loom EXPORT_NAME loom VERSION ${PROJECT_VERSION}
                      SOVERSION ${LOOM_SOVERSION} LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
target_link_options(loom_shared PRIVATE -Wl,--no-undefined)
add_library(loom::loom ALIAS loom_shared)

# ---- what a user's link needs besides libloom: the Debian packages, for pkg-config and CMake
set(LOOM_PC_REQUIRES_PRIVATE "libavformat libavcodec libswscale libavutil zlib libcrypto libturbojpeg libcjson inih libutf8proc")
set(LOOM_PC_LIBS_PRIVATE "")
# Libraries other modules may add (libmicrohttpd for src/serve, FAISS and the C++ runtime for src/infer's
# index shims): listed when they are there, so a static link gets them too.
set(LOOM_EXTRA_STATIC_LIBS)
if(MHD_LIB)
  list(APPEND LOOM_EXTRA_STATIC_LIBS ${MHD_LIB})
endif()
if(TARGET faiss)
  get_target_property(loom_faiss_lib faiss LOCATION)
  if(loom_faiss_lib)
    list(APPEND LOOM_EXTRA_STATIC_LIBS ${loom_faiss_lib})
  endif()
endif()
foreach(lib ${OPENBLAS_LIB} ${CSV_LIB} ${LOOM_EXTRA_STATIC_LIBS})
  get_filename_component(d ${lib} DIRECTORY)
  get_filename_component(n ${lib} NAME_WE)
  string(REGEX REPLACE "^lib" "" n ${n})
  if(NOT d MATCHES "^/usr/lib(/${CMAKE_LIBRARY_ARCHITECTURE})?$")
    string(APPEND LOOM_PC_LIBS_PRIVATE " -L${d}")
  endif()
  string(APPEND LOOM_PC_LIBS_PRIVATE " -l${n}")
endforeach()
get_property(loom_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
if("CXX" IN_LIST loom_languages)
  string(APPEND LOOM_PC_LIBS_PRIVATE " -lstdc++")
  list(APPEND LOOM_EXTRA_STATIC_LIBS stdc++)
endif()
string(APPEND LOOM_PC_LIBS_PRIVATE " -lm -lpthread")
set(LOOM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
file(RELATIVE_PATH LOOM_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p) # loom.pc finds its prefix from itself
set(LOOM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/loom.pc.in ${PROJECT_BINARY_DIR}/loom.pc @ONLY)
set(LOOM_OPENBLAS_LIB ${OPENBLAS_LIB})
set(LOOM_CSV_LIB ${CSV_LIB})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/loomConfig.cmake.in ${PROJECT_BINARY_DIR}/loomConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/loom)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/loomConfigVersion.cmake VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)

# ---- install rules
install(TARGETS loom_shared EXPORT loomTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/lib/libloom.a DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/loom DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/loom.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(EXPORT loomTargets NAMESPACE loom:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/loom)
install(FILES ${PROJECT_BINARY_DIR}/loomConfig.cmake ${PROJECT_BINARY_DIR}/loomConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/loom)
if(LOOM_BUILD_APPS)
  foreach(app_src ${LOOM_APPS})
    get_filename_component(app ${app_src} NAME_WE)
    install(TARGETS ${app} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endforeach()
endif()
# The Python package (python/loom) finds libloom.so beside it or through LOOM_LIBRARY (docs/python.md).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/loom DESTINATION ${CMAKE_INSTALL_LIBDIR}/loom/python
  PATTERN "__pycache__" EXCLUDE)
