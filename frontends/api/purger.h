// The background purger thread (HAKMEM_BACKGROUND_PURGE).
#ifndef HAK_PURGER_H
#define HAK_PURGER_H

#include <stdint.h>

// Start it if the options ask for it. Call once, outside malloc (from the constructor).
void purger_start(void);
uint64_t purger_tick_count(void);

#endif
