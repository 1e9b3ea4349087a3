/* weft/weft.h - all of weft's public API in one include.
 *
 * weft is Python's concurrency toolkit (multiprocessing, threading, queue,
 * concurrent.futures, gevent, socketserver) rebuilt as a C library. Each
 * module has its own header; this one includes them all. Link with
 * `pkg-config --cflags --libs weft`.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/version.h>
#include <weft/core.h>
#include <weft/proc.h>
#include <weft/thread.h>
#include <weft/signal.h>
#include <weft/command.h>
#include <weft/shm.h>
#include <weft/sync.h>
#include <weft/shared.h>
#include <weft/queue.h>
#include <weft/pipe.h>
#include <weft/pool.h>
#include <weft/co.h>
#include <weft/net.h>
#include <weft/frame.h>
#include <weft/tls.h>
#include <weft/server.h>
#include <weft/redis.h>

#endif
