# hak_add_library(<name> SOURCES ... [DEPS <other hak libraries>])
#
# Builds one layer of hakmem (platform, a box, a backend or a frontend) twice from the same objects:
# an OBJECT library hak_<name>_obj that libhakmem is assembled from, and a STATIC library
# hak::<name> that an experiment can link alone. The folder of the CMakeLists is its include dir.
function(hak_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  set(obj hak_${name}_obj)
  add_library(${obj} OBJECT ${A_SOURCES})
  target_include_directories(${obj} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${obj} PUBLIC hak_lib_flags Threads::Threads)
  foreach(dep IN LISTS A_DEPS)
    target_link_libraries(${obj} PUBLIC hak_${dep}_obj)
  endforeach()
  set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden
                                          VISIBILITY_INLINES_HIDDEN ON)
  if(HAKMEM_OVERRIDE)
    target_compile_definitions(${obj} PUBLIC HAK_OVERRIDE=1)
  endif()

  add_library(hak_${name} STATIC $<TARGET_OBJECTS:${obj}>)
  add_library(hak::${name} ALIAS hak_${name})
  target_include_directories(hak_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(hak_${name} PUBLIC hak_build_flags Threads::Threads)
  foreach(dep IN LISTS A_DEPS)
    target_link_libraries(hak_${name} PUBLIC hak_${dep})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY HAK_OBJECT_LIBRARIES ${obj})
endfunction()
