/* ctl_routing — what `liaisonctl item show` borrows from routing: the
 * item's workflow beside intake's registration. */
#ifndef LIAISON_CTL_CTL_ROUTING_H
#define LIAISON_CTL_CTL_ROUTING_H

#include <jansson.h>

#include "ctl/ctl_http.h"

/* Add routing's view of the item to intake's answer as "workflow" (and its
 * "state"), rewriting item->body; "workflow": null when routing does not
 * answer. */
void ctl_routing_augment_item(const char *court, const char *id, ctl_http_resp_t *item);
/* For people: the workflow line(s) of an augmented item, if any. */
void ctl_routing_show_workflow(json_t *item);

#endif
