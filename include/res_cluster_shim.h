/*
 * res_cluster -- C side of the Rust module.
 *
 * Copyright (C) 2026, the res_cluster authors
 *
 * This program is free software, distributed under the terms of
 * the GNU General Public License Version 2. See COPYING.
 *
 * Asterisk exposes part of its API only as C macros (they capture __FILE__,
 * the module's self pointer, or expand to compound statements). Rust cannot
 * call a macro, so each one it needs gets a one-line function here. Nothing
 * else lives in C.
 */
#ifndef RES_CLUSTER_SHIM_H
#define RES_CLUSTER_SHIM_H

/* Included after asterisk.h and asterisk/module.h. */
#include <stddef.h>

struct ast_channel;
struct ast_module;
struct ast_cli_entry;

/* Entry points implemented in Rust and named in AST_MODULE_INFO. */
enum ast_module_load_result res_cluster_load(void);
int res_cluster_unload(void);
int res_cluster_reload(void);

/* ast_log(level, ...) and ast_verb(level, ...), message already formatted. */
void res_cluster_log(int level, const char *file, int line, const char *function, const char *message);
void res_cluster_verb(int level, const char *file, int line, const char *function, const char *message);
/* ast_get_version(): the running Asterisk's version ("22.10.1"). */
const char *res_cluster_asterisk_version(void);
/* DEBUG_ATLEAST(level) for this module (core set debug <level> res_cluster),
 * and an ast_log at DEBUG of a message already formatted. */
int res_cluster_debug_atleast(int level);
void res_cluster_debug(const char *file, int line, const char *function, const char *message);
/* VERBOSITY_ATLEAST(level): whether a verbose message of this level is shown anywhere. */
int res_cluster_verbosity_atleast(int level);

/* ast_channel_lock / ast_channel_unlock */
void res_cluster_channel_lock(struct ast_channel *chan);
void res_cluster_channel_unlock(struct ast_channel *chan);

/* The comma-separated names of the channels that left a cause in chan's
 * dialed-causes table, however many (locks chan): a string for
 * res_cluster_free, or NULL when the table is empty. */
char *res_cluster_dialed_causes(struct ast_channel *chan);
/* ast_free, for what the shim hands out. */
void res_cluster_free(void *ptr);

/* Endpoint states: a message each time an endpoint's state changes
 * (ONLINE, OFFLINE), delivered to `callback` on Asterisk's shared stasis
 * pool. NULL when the subscription failed. */
struct stasis_subscription;
struct stasis_message;
struct stasis_subscription *res_cluster_endpoint_state_subscribe(
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message), void *data);
/* Ends the subscription and waits until no callback is running. */
void res_cluster_endpoint_state_unsubscribe(struct stasis_subscription *sub);
/* Copies the technology, resource and state (enum ast_endpoint_state) of
 * the endpoint an endpoint-state or contact-state message is about, and
 * whether it is a contact's change; 0 for any other message. */
int res_cluster_endpoint_state_read(struct stasis_message *message, char *tech, size_t tech_len,
	char *resource, size_t resource_len, int *state, int *contact_change);
/* The endpoint's current state (enum ast_endpoint_state), -1 when Asterisk
 * has no such endpoint. */
int res_cluster_endpoint_state(const char *tech, const char *resource);

/* Looks res_pjsip's API up (once, at load; see shim.c); whether it is there. */
int res_cluster_pjsip_api_init(void);
/* Sends a SIP OPTIONS to a PJSIP endpoint through res_pjsip. Once it is on
 * its way, `done` is called exactly once, on a PJSIP thread, with the
 * endpoint's name and whether a response came: within timeout_ms, or, when
 * the endpoint was challenged for authentication, within PJSIP's own
 * transaction timeout; with 0 when there is no such endpoint or the request
 * could not be made or sent. -1, and no call of `done`, when res_pjsip's API
 * is not there or the probe could not be queued. */
typedef void (*res_cluster_probe_done)(const char *endpoint, int answered);
int res_cluster_pjsip_probe(const char *endpoint, int timeout_ms, res_cluster_probe_done done);
/* Probes whose callback has not finished yet. */
int res_cluster_probes_in_flight(void);
/* Whether res_pjsip has an endpoint of this name, as chan_pjsip looks a
 * dial string's resource up (0 without res_pjsip). */
int res_cluster_pjsip_endpoint_exists(const char *name);
/* res_pjsip's configuration objects read generically (see shim.c): one
 * object, every object of a type (field NULL) or those whose field has a
 * value; as text for res_cluster_free, NULL when there is none or no
 * res_pjsip. And an object's extended field (@name), NULL when unset. */
char *res_cluster_pjsip_object(const char *type, const char *id);
char *res_cluster_pjsip_objects(const char *type, const char *field, const char *value);
char *res_cluster_pjsip_object_extended(const char *type, const char *id, const char *name);

/* ast_register_application_xml: the application's documentation comes from
 * the XML installed next to the module. */
int res_cluster_register_application(const char *name, int (*execute)(struct ast_channel *, const char *));

/* ast_cli_register: one entry, so that a failure is known per entry. */
int res_cluster_cli_register(struct ast_cli_entry *entry);
/* ast_cli_unregister: 0 when the entry was unlinked; -1, and nothing done,
 * when a command is using it (Asterisk would leave it linked). */
int res_cluster_cli_unregister(struct ast_cli_entry *entry);
/* Whether a command is using the entry now (found it and has not returned). */
int res_cluster_cli_in_use(struct ast_cli_entry *entry);

/* The leg mark (see shim.c): init once at load; attach to the calling
 * channel (NULL on failure); detach and free; take from a new leg (copies
 * the mark into buf, removes and frees the datastore; 0 when there is none). */
struct ast_datastore;
int res_cluster_leg_mark_init(void);
struct ast_datastore *res_cluster_leg_mark_attach(struct ast_channel *chan, const char *mark);
void res_cluster_leg_mark_detach(struct ast_channel *chan, struct ast_datastore *datastore);
int res_cluster_leg_mark_take(struct ast_channel *chan, char *buf, size_t len);

/* ast_cli(fd, "%s", text) */
void res_cluster_cli_print(int fd, const char *text);

/* The channel's PJSIP_INHERITABLE_HEADER headers (see shim.c): whether it
 * has any; and making them reach the PJSIP legs made from this channel
 * only, not the channels made from those (nor, through a transfer's Local
 * channel, its legs). */
int res_cluster_has_inheritable_headers(struct ast_channel *chan);
void res_cluster_inherit_headers_once(struct ast_channel *chan);
/* After res_cluster's header is removed: the inheritance
 * PJSIP_INHERITABLE_HEADER gives the headers left, or none when none is
 * left (see shim.c). */
void res_cluster_inherit_headers_restore(struct ast_channel *chan);

/* Device states shared between nodes (see shim.c). */
/* Entity IDs travel as their six bytes (struct ast_eid's), not as text:
 * locating reads them on every call, and ast_eid_to_str/ast_str_to_eid
 * print and scan them byte by byte. */
struct res_cluster_cached {
	unsigned char eid[6];
	int state;
	long long age_ms;
};
/* This node's entity ID. */
void res_cluster_own_eid(unsigned char eid[6]);
/* Publishes `device` in `state` (enum ast_device_state), cachable. */
void res_cluster_devstate_publish(const char *device, int state);
/* The cached states of `device` each node published (not the aggregate),
 * at most `max` of them; how many. */
int res_cluster_devstate_entries(const char *device, struct res_cluster_cached *out, int max);
/* Every beacon (device Cluster:<node>) any node published, as text for
 * res_cluster_free: device, EID and state per entry (see shim.c). */
char *res_cluster_devstate_beacons(void);
/* The state entity `eid` published for `device` and its age: 1, or 0 when
 * there is none. */
int res_cluster_devstate_of(const char *device, const unsigned char eid[6], int *state, long long *age_ms);
/* Removes what entity `eid` published, for `device` or (NULL) every
 * device; how many states. */
int res_cluster_devstate_forget(const unsigned char eid[6], const char *device);
/* Looks res_pjsip_outbound_publish's API up (once, at load); whether it is there. */
int res_cluster_publish_api_init(void);
/* Asks the node at the other end of outbound-publish `name` for all of its
 * device states; -1 when there is no such outbound-publish or API. */
int res_cluster_devstate_refresh(const char *outbound_publish);

/* Metrics: registers one res_prometheus scrape callback that calls `source`
 * with the scrape's output (1; 0 when res_prometheus's API is not there, -1
 * when it refused); unregisters it (waiting for a scrape in progress);
 * appends text to a scrape's output. */
int res_cluster_prometheus_register(void (*source)(void *output));
void res_cluster_prometheus_unregister(void);
void res_cluster_prometheus_append(void *output, const char *text);

/* ast_add_extension (the context looked up by name) with a heap copy of arg
 * as the application data (the dialplan frees it), replacing what is there.
 * The dialplan keeps the registrar pointer. */
int res_cluster_add_extension(const char *context, const char *exten, int priority, const char *app,
	const char *arg, const char *registrar);

/* Hangs up (softly, with `cause`) the legs Dial made from `caller` whose
 * names begin with `prefix`, that are not answered and not among the
 * comma-separated names in `spare`; how many. */
int res_cluster_hangup_silent_legs(struct ast_channel *caller, const char *prefix, const char *spare, int cause);

/* The cause text outbound channel `leg` left on chan (e.g. "SIP 404 Not
 * Found"), copied into buf; 0 when there is none. Locks chan. */
int res_cluster_dialed_cause(struct ast_channel *chan, const char *leg, char *buf, size_t len);

/* A variable of the channel's own (not a global one), copied into buf
 * under the channel's lock; 0 when it is not set. */
int res_cluster_channel_var(struct ast_channel *chan, const char *name, char *buf, size_t len);

/* Registrations shared between nodes (see shim.c): what Rust is told. */
struct ast_json;
struct res_cluster_contact_callbacks {
	/* A contact created (0), updated (1) or deleted (2): its fields. */
	void (*changed)(int op, const char *fields);
	/* Whether a publication from this endpoint is taken (a peer's). */
	int (*accept)(const char *endpoint);
	/* A body from this endpoint, read as JSON: 0 taken, -1 refused. */
	int (*received)(const char *endpoint, struct ast_json *json);
	/* A body refused before it was read, and why (for the log). */
	void (*refused)(const char *endpoint, const char *why);
	/* An outbound-publish of the event started publishing. */
	void (*started)(const char *outbound_publish);
	/* The largest body taken, in bytes. */
	unsigned max_body;
};
/* Observes contacts, takes publications of res-cluster-contacts and starts
 * its outbound-publishes: 0, or -1 (nothing registered) without res_pjsip,
 * res_pjsip_pubsub or res_pjsip_outbound_publish. */
int res_cluster_contacts_register(const struct res_cluster_contact_callbacks *callbacks);
void res_cluster_contacts_unregister(void);
/* Sends a JSON body through the named outbound-publish; -1 when there is no
 * such outbound-publish (or API). */
int res_cluster_publish_json(const char *outbound_publish, struct ast_json *json);

/* The AMI actions ClusterStatus and ClusterPeers (see shim.c): their text
 * from `source`, handed back to `release`. */
int res_cluster_ami_register(char *(*source)(int which), void (*release)(char *text));
void res_cluster_ami_unregister(void);
/* ast_strdup, for what Asterisk frees (a CLI completion). */
char *res_cluster_strdup(const char *text);

/* manager_event(EVENT_FLAG_SYSTEM, event, "%s", body) */
int res_cluster_manager_event(const char *event, const char *body);

#endif
