/* The peak recorder's sink (see peak_hook.h). */
#include "core/peak_hook.h"

void (*at_peak_sink)(int64_t bytes);
