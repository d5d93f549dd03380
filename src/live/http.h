/* The pull endpoint for fleet profilers (ALLOCTAG_HTTP; http.c). */
#ifndef AT_HTTP_H
#define AT_HTTP_H

#include "core/compiler.h"

/* Start-up: start the endpoint's thread if ALLOCTAG_HTTP asks for it. */
AT_HIDDEN void at_http_start(void);

#endif
