#ifndef CZEROMQ_SHIM_H
#define CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>

/// `errno` as libzmq sets it, readable from Swift without touching the C macro.
static inline int CZeroMQ_errno(void) { return zmq_errno(); }
static inline int CZeroMQ_EAGAIN(void) { return EAGAIN; }
static inline int CZeroMQ_EINTR(void) { return EINTR; }
static inline int CZeroMQ_ETERM(void) { return ETERM; }
#endif
