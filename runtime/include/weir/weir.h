/*
 * weir/weir.h - umbrella header: the whole public API of weir.
 */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#include "weir/buf.h"
#include "weir/clock.h"
#include "weir/config.h"
#include "weir/element.h"
#include "weir/error.h"
#include "weir/fs.h"
#include "weir/graph.h"
#include "weir/job.h"
#include "weir/json.h"
#include "weir/keygroup.h"
#include "weir/log.h"
#include "weir/metrics.h"
#include "weir/operator.h"
#include "weir/state.h"
#include "weir/timer.h"
#include "weir/connectors.h"

#endif
