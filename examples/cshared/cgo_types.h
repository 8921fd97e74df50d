/*
 * Private to the cgo build of libstatustoken.so: const-qualified aliases
 * for the Go functions' parameter types, so that the prototypes cgo
 * generates (in libstatustoken.h) are exactly those of statustoken.h,
 * which the C compiler then checks. Not part of the public interface.
 */
#ifndef STATUSTOKEN_CGO_TYPES_H
#define STATUSTOKEN_CGO_TYPES_H

#include "statustoken.h"

typedef const uint8_t st_cgo_cbytes;             /* const uint8_t *            */
typedef const char st_cgo_cchars;                /* const char *               */
typedef const uint8_t *const st_cgo_cbytes_ptr;  /* const uint8_t *const *     */
typedef const char *const st_cgo_cchars_ptr;     /* const char *const *        */
typedef const size_t st_cgo_csize;               /* const size_t *             */
typedef const st_options st_cgo_coptions;        /* const st_options *         */

#endif
