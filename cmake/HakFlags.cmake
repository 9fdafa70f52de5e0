# Compile flags shared by every hakmem library, test and benchmark.
add_library(hak_build_flags INTERFACE)
target_compile_options(hak_build_flags INTERFACE
  -Wall -Wextra -Wshadow -Wno-unused-parameter
  $<$<BOOL:${HAKMEM_WERROR}>:-Werror>)
if(HAKMEM_THREAD_CACHE STREQUAL "none")
  set(HAK_TC 0)
elseif(HAKMEM_THREAD_CACHE STREQUAL "tls_sll")
  set(HAK_TC 1)
elseif(HAKMEM_THREAD_CACHE STREQUAL "unified_cache")
  set(HAK_TC 2)
else()
  message(FATAL_ERROR "HAKMEM_THREAD_CACHE must be tls_sll, unified_cache or none")
endif()
target_compile_definitions(hak_build_flags INTERFACE HAK_THREAD_CACHE=${HAK_TC}
  HAK_LRU=$<BOOL:${HAKMEM_LRU}> HAK_PAGE_ARENA=$<BOOL:${HAKMEM_PAGE_ARENA}>
  HAK_GROW_REGION=$<BOOL:${HAKMEM_GROW_REGION}>
  HAK_HARDENED=$<BOOL:${HAKMEM_HARDENED}>)

if(HAKMEM_DEBUG_CHECKS)
  target_compile_definitions(hak_build_flags INTERFACE HAK_DEBUG_CHECKS=1)
endif()

if(HAKMEM_SANITIZE STREQUAL "address")
  set(HAK_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(HAKMEM_SANITIZE STREQUAL "thread")
  set(HAK_SAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT HAKMEM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "HAKMEM_SANITIZE must be address, thread or empty")
endif()
if(HAK_SAN_FLAGS)
  if(HAKMEM_OVERRIDE)
    message(FATAL_ERROR "a sanitizer owns malloc: configure sanitizer builds with HAKMEM_OVERRIDE=OFF")
  endif()
  target_compile_options(hak_build_flags INTERFACE ${HAK_SAN_FLAGS})
  target_link_options(hak_build_flags INTERFACE ${HAK_SAN_FLAGS})
endif()

# Flags for the allocator's own code: no PLT or interposition inside the library, TLS reached
# without __tls_get_addr (libhakmem is loaded at start-up, by LD_PRELOAD or by linking).
add_library(hak_lib_flags INTERFACE)
target_link_libraries(hak_lib_flags INTERFACE hak_build_flags)
target_compile_options(hak_lib_flags INTERFACE
  -fno-semantic-interposition -ftls-model=initial-exec -fno-plt -fno-strict-aliasing)
