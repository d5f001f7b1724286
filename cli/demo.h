/* steward demo: what its stories share. */
#ifndef STW_CLI_DEMO_H
#define STW_CLI_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include "domain/domain.h"
#include "factory.h"
#include "store/store.h"

#define DEMO_FLEET_MAX 8

/** One line of the story: "[who    ] what". */
void demo_say(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** The enrolled devices of one model the later-life story works on. */
typedef struct {
  stw_store_t *store;
  const stw_domain_t *home;
  const stw_factory_t *vendor;     /**< the manufacturer signs releases with its CA key */
  const char *model;
  const char *uri;                 /**< the running daemon */
  const char *root;                /**< the demo's folder */
  size_t n;
  const char *dirs[DEMO_FLEET_MAX];
  const char *labels[DEMO_FLEET_MAX];
  const char *ids[DEMO_FLEET_MAX];
  const char *names[DEMO_FLEET_MAX];  /**< assigned names */
  size_t tampered;                 /**< index of the device whose image is tampered with */
} demo_fleet_t;

/** Updates, attestation, quarantine, decommissioning, compliance
 *  (cli/demo_later.c). *as_expected: every step came out as told. */
stw_status_t demo_later_life(const demo_fleet_t *fleet, bool *as_expected);

#endif
