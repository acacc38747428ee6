/*
 * res_cluster -- module registration and macro wrappers.
 *
 * Copyright (C) 2026, the res_cluster authors
 *
 * This program is free software, distributed under the terms of
 * the GNU General Public License Version 2. See COPYING.
 *
 * The module's logic is in Rust. This file holds what only C can express:
 * AST_MODULE_INFO (a static struct plus constructor/destructor that register
 * the module with the loader), the self symbol, and one-line wrappers for the
 * macros listed in res_cluster_shim.h.
 */

#define AST_MODULE "res_cluster"
#define AST_MODULE_SELF_SYM __res_cluster_module_self

#include <asterisk.h>
#include <asterisk/module.h>
#include <asterisk/logger.h>
#include <asterisk/channel.h>
#include <asterisk/pbx.h>
#include <asterisk/cli.h>
#include <asterisk/manager.h>
#include <asterisk/astobj2.h>
#include <asterisk/strings.h>
#include <asterisk/stasis.h>
#include <asterisk/stasis_endpoints.h>
#include <asterisk/json.h>
#include <asterisk/utils.h>
#include <asterisk/datastore.h>
#include <asterisk/sorcery.h>
#include <asterisk/taskprocessor.h>
#include <asterisk/devicestate.h>
#include <asterisk/res_prometheus.h>
#include <asterisk/ast_version.h>

#include <dlfcn.h>

#include "res_cluster_shim.h"

void res_cluster_log(int level, const char *file, int line, const char *function, const char *message)
{
	ast_log(level, file, line, function, "%s\n", message);
}

void res_cluster_verb(int level, const char *file, int line, const char *function, const char *message)
{
	if (VERBOSITY_ATLEAST(level)) {
		__ast_verbose(file, line, function, level, "%s\n", message);
	}
}

const char *res_cluster_asterisk_version(void)
{
	return ast_get_version();
}

int res_cluster_debug_atleast(int level)
{
	/* `core set debug <level> res_cluster` (or a global debug level). */
	return DEBUG_ATLEAST(level);
}

void res_cluster_debug(const char *file, int line, const char *function, const char *message)
{
	ast_log(__LOG_DEBUG, file, line, function, "%s\n", message);
}

int res_cluster_verbosity_atleast(int level)
{
	return VERBOSITY_ATLEAST(level);
}

void res_cluster_channel_lock(struct ast_channel *chan)
{
	ast_channel_lock(chan);
}

void res_cluster_channel_unlock(struct ast_channel *chan)
{
	ast_channel_unlock(chan);
}

char *res_cluster_dialed_causes(struct ast_channel *chan)
{
	struct ast_str *names;
	char *copy = NULL;

	ast_channel_lock(chan);
	names = ast_channel_dialed_causes_channels(chan);
	ast_channel_unlock(chan);
	if (names) {
		if (ast_str_strlen(names)) {
			copy = ast_strdup(ast_str_buffer(names));
		}
		ast_free(names);
	}
	return copy;
}

void res_cluster_free(void *ptr)
{
	ast_free(ptr);
}

struct stasis_subscription *res_cluster_endpoint_state_subscribe(
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message), void *data)
{
	struct stasis_subscription *sub = stasis_subscribe_pool(ast_endpoint_topic_all(), callback, data);

	if (sub) {
		/* Published by an endpoint's channel driver when its state changes
		 * (PJSIP: when the first of its AORs becomes available or the last
		 * one unavailable). */
		stasis_subscription_accept_message_type(sub, ast_endpoint_state_type());
		/* Published by res_pjsip for a contact's status: qualify's
		 * changes, and a contact's creation and removal. From a
		 * never-qualified contact to unavailable the endpoint's state does
		 * not change (pjsip_options.c), so only this tells. */
		stasis_subscription_accept_message_type(sub, ast_endpoint_contact_state_type());
		stasis_subscription_set_filter(sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	}
	return sub;
}

void res_cluster_endpoint_state_unsubscribe(struct stasis_subscription *sub)
{
	stasis_unsubscribe_and_join(sub);
}

int res_cluster_endpoint_state_read(struct stasis_message *message, char *tech, size_t tech_len,
	char *resource, size_t resource_len, int *state, int *contact_change)
{
	struct ast_endpoint_blob *blob;

	if (stasis_message_type(message) == ast_endpoint_state_type()) {
		*contact_change = 0;
	} else if (stasis_message_type(message) == ast_endpoint_contact_state_type()) {
		*contact_change = 1;
	} else {
		return 0;
	}
	/* Either blob carries a snapshot of the endpoint taken when the message
	 * was made (ast_endpoint_blob_create). An endpoint-state message is made
	 * right after the state is set; a contact-state message is made on
	 * res_pjsip's management serializer, and a state change made on another
	 * thread meanwhile may be delivered before it. */
	blob = stasis_message_data(message);
	if (!blob || !blob->snapshot) {
		return 0;
	}
	ast_copy_string(tech, blob->snapshot->tech, tech_len);
	ast_copy_string(resource, blob->snapshot->resource, resource_len);
	*state = blob->snapshot->state;
	return 1;
}

int res_cluster_endpoint_state(const char *tech, const char *resource)
{
	struct ast_endpoint_snapshot *snapshot = ast_endpoint_latest_snapshot(tech, resource);
	int state;

	if (!snapshot) {
		return -1;
	}
	state = snapshot->state;
	ao2_ref(snapshot, -1);
	return state;
}

/*
 * Probes: a SIP OPTIONS to a peer's endpoint, through res_pjsip's API.
 *
 * res_pjsip is not linked (a node without PJSIP must load res_cluster); its
 * functions are looked up once, by res_cluster_pjsip_api_init() at load.
 * res_cluster names res_pjsip in .optional_modules, so the loader starts
 * res_cluster only if res_pjsip is running (then it takes a reference that
 * keeps it loaded until res_cluster unloads) or not known at all (then its
 * functions are not found: a res_pjsip loaded later is not used until
 * res_cluster itself is loaded again).
 *
 * The response callback receives a pjsip_event. pjproject's headers are
 * not part of asterisk-dev; the members read here are declared as
 * pjsip/sip_event.h declares them (unchanged since pjproject 1.x): the list
 * links, the event type, and in the tsx_state body the source union, the
 * transaction, the previous state and the type of the event that ended the
 * transaction.
 */
struct pjsip_event;
struct pjsip_tx_data;
struct pjsip_dialog;
struct ast_sip_endpoint;
struct ast_sip_contact;

struct res_cluster_pjsip_event {
	void *prev;
	void *next;
	int type;
	union {
		struct {
			union {
				void *data;
				int status;
			} src;
			void *tsx;
			int prev_state;
			int type;
		} tsx_state;
	} body;
};

/* pjsip_event_id_e */
#define RES_CLUSTER_PJSIP_EVENT_RX_MSG 3
#define RES_CLUSTER_PJSIP_EVENT_TSX_STATE 5

static struct {
	struct ast_sorcery *(*sorcery)(void);
	int (*create_request)(const char *method, struct pjsip_dialog *dlg, struct ast_sip_endpoint *endpoint,
		const char *uri, struct ast_sip_contact *contact, struct pjsip_tx_data **tdata);
	int (*send)(struct pjsip_tx_data *tdata, struct ast_sip_endpoint *endpoint, int timeout, void *token,
		void (*callback)(void *token, struct pjsip_event *e));
	/* The three-argument function every res_pjsip exports: a macro over
	 * __ast_sip_push_task in the headers of 20.18, 22.8, 23.2 and later,
	 * which keep the function for modules built before. */
	int (*push)(struct ast_taskprocessor *serializer, int (*task)(void *), void *data);
	/* Optional: absent before multi-domain could be switched off. */
	unsigned int (*disable_multi_domain)(void);
} pjsip_api;

int res_cluster_pjsip_api_init(void)
{
	memset(&pjsip_api, 0, sizeof(pjsip_api));
	pjsip_api.sorcery = (struct ast_sorcery *(*)(void)) dlsym(RTLD_DEFAULT, "ast_sip_get_sorcery");
	*(void **) &pjsip_api.create_request = dlsym(RTLD_DEFAULT, "ast_sip_create_request");
	*(void **) &pjsip_api.send = dlsym(RTLD_DEFAULT, "ast_sip_send_out_of_dialog_request");
	*(void **) &pjsip_api.push = dlsym(RTLD_DEFAULT, "ast_sip_push_task");
	*(void **) &pjsip_api.disable_multi_domain = dlsym(RTLD_DEFAULT, "ast_sip_get_disable_multi_domain");
	if (!pjsip_api.sorcery || !pjsip_api.create_request || !pjsip_api.send || !pjsip_api.push) {
		memset(&pjsip_api, 0, sizeof(pjsip_api));
		return 0;
	}
	return 1;
}

int res_cluster_pjsip_endpoint_exists(const char *name)
{
	void *endpoint;

	if (!pjsip_api.sorcery) {
		return 0;
	}
	/* chan_pjsip's request(): with multi-domain off, "a@b" is always user a
	 * at endpoint b, whatever endpoints exist. */
	if (strchr(name, '@') && pjsip_api.disable_multi_domain && pjsip_api.disable_multi_domain()) {
		return 0;
	}
	endpoint = ast_sorcery_retrieve_by_id(pjsip_api.sorcery(), "endpoint", name);
	ao2_cleanup(endpoint);
	return endpoint != NULL;
}

/*
 * res_pjsip's configuration objects (endpoints, transports, identifies,
 * outbound-publishes, contacts) read generically: each object's id and its
 * fields as sorcery's own handlers write them (ast_sorcery_objectset_create2,
 * the list handler first, so a field of several values gives several
 * entries), one text for Rust to parse. No struct of res_pjsip's is read:
 * their layouts are private and change between versions.
 *
 * Text: per object, its id, then per field "\x1f" name "\x1f" value, then
 * "\x1e". A value can hold any byte but CR and LF (a contact's user_agent
 * and call_id are the phone's own headers, copied as they came): control
 * bytes are written as blanks, so that no value can forge a field or end
 * the object.
 */
static void append_text(struct ast_str **out, const char *text)
{
	const char *p;

	for (p = text ? text : ""; *p; p++) {
		ast_str_append(out, 0, "%c", (unsigned char) *p < 0x20 ? ' ' : *p);
	}
}

static void append_object(struct ast_str **out, const void *object)
{
	struct ast_variable *fields = ast_sorcery_objectset_create2(pjsip_api.sorcery(), object, AST_HANDLER_PREFER_LIST);
	struct ast_variable *field;

	append_text(out, ast_sorcery_object_get_id(object));
	for (field = fields; field; field = field->next) {
		ast_str_append(out, 0, "\x1f");
		append_text(out, field->name);
		ast_str_append(out, 0, "\x1f");
		append_text(out, field->value);
	}
	ast_str_append(out, 0, "\x1e");
	ast_variables_destroy(fields);
}

static char *str_to_heap(struct ast_str *text)
{
	char *copy = text ? ast_strdup(ast_str_buffer(text)) : NULL;

	ast_free(text);
	return copy;
}

char *res_cluster_pjsip_object(const char *type, const char *id)
{
	struct ast_str *out;
	void *object;

	if (!pjsip_api.sorcery || !(object = ast_sorcery_retrieve_by_id(pjsip_api.sorcery(), type, id))) {
		return NULL;
	}
	out = ast_str_create(256);
	if (out) {
		append_object(&out, object);
	}
	ao2_ref(object, -1);
	return str_to_heap(out);
}

static int append_cb(void *obj, void *arg, int flags)
{
	append_object(arg, obj);
	return 0;
}

char *res_cluster_pjsip_objects(const char *type, const char *field, const char *value)
{
	struct ast_variable *match = NULL;
	struct ao2_container *all;
	struct ast_str *out;

	if (!pjsip_api.sorcery) {
		return NULL;
	}
	if (field && !(match = ast_variable_new(field, value, ""))) {
		return NULL;
	}
	all = ast_sorcery_retrieve_by_fields(pjsip_api.sorcery(), type,
		AST_RETRIEVE_FLAG_MULTIPLE | (match ? 0 : AST_RETRIEVE_FLAG_ALL), match);
	ast_variables_destroy(match);
	if (!all) {
		return NULL;
	}
	out = ast_str_create(1024);
	if (out) {
		ast_str_set(&out, 0, "%s", "");
		ao2_callback(all, OBJ_NODATA, append_cb, &out);
	}
	ao2_ref(all, -1);
	return str_to_heap(out);
}

char *res_cluster_pjsip_object_extended(const char *type, const char *id, const char *name)
{
	void *object;
	const char *value;
	char *copy = NULL;

	if (!pjsip_api.sorcery || !(object = ast_sorcery_retrieve_by_id(pjsip_api.sorcery(), type, id))) {
		return NULL;
	}
	value = ast_sorcery_object_get_extended(object, name);
	if (value) {
		copy = ast_strdup(value);
	}
	ao2_ref(object, -1);
	return copy;
}

struct probe {
	res_cluster_probe_done done;
	int timeout_ms;
	/* Two holders once sent: probe_send, until it has returned from
	 * res_pjsip's send, and the response callback, which may run on another
	 * thread before that. */
	int holders;
	char endpoint[];
};

/* Probes queued or sent that a task or callback of this module still
 * holds: unload waits for none to be left before the module's code goes
 * away. */
static int probes_in_flight;

/* Drops one holder of the probe; the last one frees it, and the count goes
 * down last, when nothing of this module is used any more but the return
 * from this function. */
static void probe_release(struct probe *probe)
{
	if (ast_atomic_fetchadd_int(&probe->holders, -1) == 1) {
		ast_free(probe);
		ast_atomic_fetchadd_int(&probes_in_flight, -1);
	}
}

int res_cluster_probes_in_flight(void)
{
	return ast_atomic_fetchadd_int(&probes_in_flight, 0);
}

static void probe_response(void *token, struct pjsip_event *e)
{
	const struct res_cluster_pjsip_event *event = (const void *) e;
	struct probe *probe = token;

	probe->done(probe->endpoint, event->type == RES_CLUSTER_PJSIP_EVENT_TSX_STATE
		&& event->body.tsx_state.type == RES_CLUSTER_PJSIP_EVENT_RX_MSG);
	probe_release(probe);
}

/* Runs on a res_pjsip task-pool thread, where pjproject may be called. */
static int probe_send(void *data)
{
	struct probe *probe = data;
	struct ast_sip_endpoint *endpoint = ast_sorcery_retrieve_by_id(pjsip_api.sorcery(), "endpoint", probe->endpoint);
	struct pjsip_tx_data *tdata;

	if (!endpoint || pjsip_api.create_request("OPTIONS", NULL, endpoint, NULL, NULL, &tdata)) {
		ao2_cleanup(endpoint);
		probe->done(probe->endpoint, 0);
		probe_release(probe);
		return 0;
	}
	/* The callback's holder, taken before it can run. On failure the
	 * request is freed and the callback does not run. */
	ast_atomic_fetchadd_int(&probe->holders, +1);
	if (pjsip_api.send(tdata, endpoint, probe->timeout_ms, probe, probe_response)) {
		ast_atomic_fetchadd_int(&probe->holders, -1);
		probe->done(probe->endpoint, 0);
	}
	ao2_ref(endpoint, -1);
	probe_release(probe);
	return 0;
}

int res_cluster_pjsip_probe(const char *endpoint, int timeout_ms, res_cluster_probe_done done)
{
	struct probe *probe;

	if (!pjsip_api.push) {
		return -1;
	}
	probe = ast_calloc(1, sizeof(*probe) + strlen(endpoint) + 1);
	if (!probe) {
		return -1;
	}
	strcpy(probe->endpoint, endpoint); /* Safe: allocated for it. */
	probe->done = done;
	probe->timeout_ms = timeout_ms;
	probe->holders = 1; /* probe_send's */
	ast_atomic_fetchadd_int(&probes_in_flight, +1);
	if (pjsip_api.push(NULL, probe_send, probe)) {
		ast_free(probe);
		ast_atomic_fetchadd_int(&probes_in_flight, -1);
		return -1;
	}
	return 0;
}

/*
 * Device states, as the nodes share them (res_pjsip_publish_asterisk): the
 * device-state cache holds one state per device per entity ID.
 */

void res_cluster_own_eid(unsigned char eid[6])
{
	memcpy(eid, ast_eid_default.eid, sizeof(ast_eid_default.eid));
}

static void eid_from(struct ast_eid *eid, const unsigned char bytes[6])
{
	memcpy(eid->eid, bytes, sizeof(eid->eid));
}

void res_cluster_devstate_publish(const char *device, int state)
{
	ast_devstate_changed_literal(state, AST_DEVSTATE_CACHABLE, device);
}

static long long age_ms(struct stasis_message *msg, struct timeval now)
{
	const struct timeval *at = stasis_message_timestamp(msg);

	return at ? ast_tvdiff_ms(now, *at) : 0;
}

struct entries_out {
	struct res_cluster_cached *out;
	int max;
	int count;
	struct timeval now;
};

static int entry_cb(void *obj, void *arg, int flags)
{
	struct stasis_message *msg = obj;
	struct entries_out *e = arg;
	/* stasis_cache_get_all gives each entity's own snapshot, never the
	 * aggregate (stasis_cache.c, cache_entry_dump): each was published
	 * with the entity ID of the node it describes. */
	struct ast_device_state_message *state = stasis_message_data(msg);

	if (e->count >= e->max) {
		return CMP_STOP;
	}
	memcpy(e->out[e->count].eid, state->eid->eid, sizeof(e->out[e->count].eid));
	e->out[e->count].state = state->state;
	e->out[e->count].age_ms = age_ms(msg, e->now);
	e->count++;
	return 0;
}

int res_cluster_devstate_entries(const char *device, struct res_cluster_cached *out, int max)
{
	struct ao2_container *all = stasis_cache_get_all(ast_device_state_cache(), ast_device_state_message_type(), device);
	struct entries_out e = { .out = out, .max = max, .count = 0 };

	if (!all) {
		return 0;
	}
	e.now = ast_tvnow();
	/* The container is ours alone (made for this call, without a lock):
	 * walked in place, without the object references an iterator takes. */
	ao2_callback(all, OBJ_NODATA, entry_cb, &e);
	ao2_ref(all, -1);
	return e.count;
}

static int beacon_cb(void *obj, void *arg, int flags)
{
	struct stasis_message *msg = obj;
	struct ast_device_state_message *state = stasis_message_data(msg);
	char eid[20];

	/* Every entity's own snapshot (stasis_cache_dump_all leaves the
	 * aggregates out), so each carries the EID it was published under. */
	if (!strncmp(state->device, "Cluster:", 8)) {
		ast_eid_to_str(eid, sizeof(eid), (struct ast_eid *) state->eid);
		ast_str_append(arg, 0, "%s\x1f%s\x1f%d\x1e", state->device, eid, state->state);
	}
	return 0;
}

char *res_cluster_devstate_beacons(void)
{
	struct ao2_container *all = stasis_cache_dump_all(ast_device_state_cache(), ast_device_state_message_type());
	struct ast_str *out;

	if (!all) {
		return NULL;
	}
	out = ast_str_create(256);
	if (out) {
		ast_str_set(&out, 0, "%s", "");
		ao2_callback(all, OBJ_NODATA, beacon_cb, &out);
	}
	ao2_ref(all, -1);
	return str_to_heap(out);
}

int res_cluster_devstate_of(const char *device, const unsigned char eid_bytes[6], int *state_out, long long *age_out)
{
	struct ast_eid eid;
	struct stasis_message *msg;
	struct ast_device_state_message *state;

	eid_from(&eid, eid_bytes);
	msg = stasis_cache_get_by_eid(ast_device_state_cache(), ast_device_state_message_type(), device, &eid);
	if (!msg) {
		return 0;
	}
	state = stasis_message_data(msg);
	*state_out = state->state;
	*age_out = age_ms(msg, ast_tvnow());
	ao2_ref(msg, -1);
	return 1;
}

/* Removes a cached state as ast_device_state_clear_cache does for this
 * node's own: a clear message for it, on its device's topic. */
static int forget_cb(void *obj, void *arg, int flags)
{
	struct stasis_message *msg = obj;
	struct ast_device_state_message *state = stasis_message_data(msg);
	struct stasis_message *clear;

	if (!state || !state->device) {
		return 0;
	}
	clear = stasis_cache_clear_create(msg);
	if (clear) {
		stasis_publish(ast_device_state_topic(state->device), clear);
		ao2_ref(clear, -1);
	}
	return 0;
}

int res_cluster_devstate_forget(const unsigned char eid_bytes[6], const char *device)
{
	struct ast_eid eid;
	int count = 0;

	eid_from(&eid, eid_bytes);
	if (device) {
		struct stasis_message *msg = stasis_cache_get_by_eid(ast_device_state_cache(),
			ast_device_state_message_type(), device, &eid);

		if (msg) {
			forget_cb(msg, NULL, 0);
			ao2_ref(msg, -1);
			count = 1;
		}
	} else {
		struct ao2_container *all = stasis_cache_dump_by_eid(ast_device_state_cache(),
			ast_device_state_message_type(), &eid);

		if (all) {
			count = ao2_container_count(all);
			ao2_callback(all, OBJ_NODATA, forget_cb, NULL);
			ao2_ref(all, -1);
		}
	}
	return count;
}

/*
 * A refresh request, through res_pjsip_outbound_publish's API: the node at
 * the other end of the outbound-publish sends all of its own device states
 * again (res_pjsip_publish_asterisk answers {"type":"refresh"} so). Looked
 * up at load, as res_pjsip's are (see above).
 */
struct ast_sip_outbound_publish_client;
struct res_cluster_sip_body {
	/* struct ast_sip_body (res_pjsip.h): type, subtype, body_text. */
	const char *type;
	const char *subtype;
	const char *body_text;
};

static struct {
	struct ast_sip_outbound_publish_client *(*get)(const char *name);
	int (*send)(struct ast_sip_outbound_publish_client *client, const struct res_cluster_sip_body *body);
} publish_api;

int res_cluster_publish_api_init(void)
{
	*(void **) &publish_api.get = dlsym(RTLD_DEFAULT, "ast_sip_publish_client_get");
	*(void **) &publish_api.send = dlsym(RTLD_DEFAULT, "ast_sip_publish_client_send");
	if (!publish_api.get || !publish_api.send) {
		memset(&publish_api, 0, sizeof(publish_api));
		return 0;
	}
	return 1;
}

int res_cluster_devstate_refresh(const char *outbound_publish)
{
	struct ast_sip_outbound_publish_client *client;
	struct res_cluster_sip_body body = { .type = "application", .subtype = "json" };
	char eid[20];
	char *text;
	struct ast_json *json;
	int res = -1;

	if (!publish_api.get || !(client = publish_api.get(outbound_publish))) {
		return -1;
	}
	ast_eid_to_str(eid, sizeof(eid), &ast_eid_default);
	json = ast_json_pack("{ s: s, s: s }", "type", "refresh", "eid", eid);
	text = json ? ast_json_dump_string(json) : NULL;
	if (text) {
		body.body_text = text;
		res = publish_api.send(client, &body);
		ast_json_free(text);
	}
	ast_json_unref(json);
	ao2_ref(client, -1);
	return res;
}

/*
 * Metrics, through res_prometheus's API: one scrape callback that appends
 * res_cluster's exposition text. Looked up at load, as res_pjsip's are
 * (res_prometheus is optional, see AST_MODULE_INFO).
 */
static void (*metrics_source)(void *output);
static int (*callback_register)(struct prometheus_callback *callback);
static void (*callback_unregister)(struct prometheus_callback *callback);

static void metrics_callback(struct ast_str **output)
{
	if (metrics_source) {
		metrics_source(output);
	}
}

/* res_prometheus keeps the pointer: static, registered until unload. */
static struct prometheus_callback metrics = {
	.name = "res_cluster",
	.callback_fn = metrics_callback,
};

int res_cluster_prometheus_register(void (*source)(void *output))
{
	*(void **) &callback_register = dlsym(RTLD_DEFAULT, "prometheus_callback_register");
	*(void **) &callback_unregister = dlsym(RTLD_DEFAULT, "prometheus_callback_unregister");
	if (!callback_register || !callback_unregister) {
		callback_register = NULL;
		callback_unregister = NULL;
		return 0;
	}
	metrics_source = source;
	if (callback_register(&metrics)) {
		callback_unregister = NULL;
		return -1;
	}
	return 1;
}

void res_cluster_prometheus_unregister(void)
{
	/* Waits for a scrape in progress (res_prometheus's scrape lock). */
	if (callback_unregister) {
		callback_unregister(&metrics);
		callback_unregister = NULL;
	}
	metrics_source = NULL;
}

void res_cluster_prometheus_append(void *output, const char *text)
{
	ast_str_append((struct ast_str **) output, 0, "%s", text);
}

/* Whether `name` is one of the comma-separated names in `list` (as
 * ast_channel_dialed_causes_channels writes them: "a,b,c"). */
static int name_listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *at = list;

	while (at && (at = strstr(at, name))) {
		if ((at == list || at[-1] == ',') && (at[len] == ',' || at[len] == '\0')) {
			return 1;
		}
		at += len;
	}
	return 0;
}

int res_cluster_hangup_silent_legs(struct ast_channel *caller, const char *prefix, const char *spare, int cause)
{
	char linkedid[AST_MAX_UNIQUEID];
	struct ast_channel_iterator *it;
	struct ast_channel *leg;
	int count = 0;

	/* The legs Dial made from caller share its linked ID (a channel
	 * requested by another copies its linkedid) and are named after the
	 * endpoint they go out on ("PJSIP/cluster-node2-0000002a"). */
	ast_channel_lock(caller);
	ast_copy_string(linkedid, ast_channel_linkedid(caller), sizeof(linkedid));
	ast_channel_unlock(caller);
	if (!(it = ast_channel_iterator_by_name_new(prefix, strlen(prefix)))) {
		return 0;
	}
	for (; (leg = ast_channel_iterator_next(it)); ast_channel_unref(leg)) {
		if (leg == caller) {
			continue;
		}
		ast_channel_lock(leg);
		if (!strcmp(ast_channel_linkedid(leg), linkedid) && ast_channel_state(leg) != AST_STATE_UP
			&& !name_listed(spare, ast_channel_name(leg))) {
			/* Dial reads the cause when the leg goes (handle_cause: anything
			 * but busy, congestion, no answer or normal clearing counts as
			 * "no channel"), and moves on to the legs still ringing. */
			ast_channel_hangupcause_set(leg, cause);
			ast_softhangup_nolock(leg, AST_SOFTHANGUP_EXPLICIT);
			count++;
		}
		ast_channel_unlock(leg);
	}
	ast_channel_iterator_destroy(it);
	return count;
}

int res_cluster_dialed_cause(struct ast_channel *chan, const char *leg, char *buf, size_t len)
{
	struct ast_control_pvt_cause_code *cause;

	ast_channel_lock(chan);
	cause = ast_channel_dialed_causes_find(chan, leg);
	ast_channel_unlock(chan);
	if (!cause) {
		return 0;
	}
	ast_copy_string(buf, cause->code, len);
	ao2_ref(cause, -1);
	return 1;
}

int res_cluster_channel_var(struct ast_channel *chan, const char *name, char *buf, size_t len)
{
	struct ast_var_t *var;
	int found = 0;

	/* The channel's own variables only (Dial's DIALSTATUS and
	 * DIALEDPEERNAME, the recipe's FROM_CLUSTER), found and copied under the
	 * channel's lock, which guards its variable list. ast_var_name leaves
	 * out the one or two underscores of an inherited variable's name. */
	ast_channel_lock(chan);
	AST_LIST_TRAVERSE(ast_channel_varshead(chan), var, entries) {
		if (!strcmp(ast_var_name(var), name)) {
			ast_copy_string(buf, ast_var_value(var), len);
			found = 1;
			break;
		}
	}
	ast_channel_unlock(chan);
	return found;
}

int res_cluster_register_application(const char *name, int (*execute)(struct ast_channel *, const char *))
{
	return ast_register_application_xml(name, execute);
}

int res_cluster_cli_register(struct ast_cli_entry *entry)
{
	return ast_cli_register(entry);
}

int res_cluster_cli_unregister(struct ast_cli_entry *entry)
{
	/* ast_cli_unregister leaves an entry that a command is using linked (it
	 * only logs a warning); otherwise it unlinks it. */
	if (ast_atomic_fetchadd_int(&entry->inuse, 0)) {
		return -1;
	}
	ast_cli_unregister(entry);
	return 0;
}

int res_cluster_cli_in_use(struct ast_cli_entry *entry)
{
	/* A command counts itself in inuse when it finds the entry, under the
	 * CLI list's lock, and until its handler has returned. */
	return ast_atomic_fetchadd_int(&entry->inuse, 0);
}

/*
 * The leg mark: a datastore that the calling channel carries while Dial
 * creates the legs to peers, inherited once by each new leg (inheritance 1:
 * the leg's copy has 0 and goes no further), where the pre-dial handler reads
 * it from the uid and removes it.
 *
 * The datastore attached here holds a reference on this module until it is
 * freed (ast_datastore_alloc passes AST_MODULE_SELF). The copies made by
 * ast_channel_datastore_inherit, in the core, hold none, and a leg can
 * outlive the call that made it. So nothing of the datastore may live in this
 * module: its type structure and type name are allocated once from
 * Asterisk's heap and never freed, the structure is zero-filled (no
 * callbacks), and the mark is the uid, which the core copies and frees.
 */
static struct ast_datastore_info *leg_mark_info;

int res_cluster_leg_mark_init(void)
{
	if (!leg_mark_info) {
		struct ast_datastore_info *info = ast_calloc(1, sizeof(*info));

		if (!info || !(info->type = ast_strdup("res_cluster-leg-mark"))) {
			ast_free(info);
			return -1;
		}
		leg_mark_info = info;
	}
	return 0;
}

struct ast_datastore *res_cluster_leg_mark_attach(struct ast_channel *chan, const char *mark)
{
	struct ast_datastore *datastore;

	if (!leg_mark_info || !(datastore = ast_datastore_alloc(leg_mark_info, mark))) {
		return NULL;
	}
	datastore->inheritance = 1;
	ast_channel_lock(chan);
	ast_channel_datastore_add(chan, datastore);
	ast_channel_unlock(chan);
	return datastore;
}

void res_cluster_leg_mark_detach(struct ast_channel *chan, struct ast_datastore *datastore)
{
	int removed;

	ast_channel_lock(chan);
	removed = !ast_channel_datastore_remove(chan, datastore);
	ast_channel_unlock(chan);
	/* A masquerade (the channel yanked into a bridge or a parking lot while
	 * Dial rang) moves every datastore to the other channel, which then
	 * owns and frees it. */
	if (removed) {
		ast_datastore_free(datastore);
	}
}

int res_cluster_leg_mark_take(struct ast_channel *chan, char *buf, size_t len)
{
	struct ast_datastore *datastore;

	if (!leg_mark_info || !len) {
		return 0;
	}
	ast_channel_lock(chan);
	datastore = ast_channel_datastore_find(chan, leg_mark_info, NULL);
	if (datastore) {
		ast_copy_string(buf, S_OR(datastore->uid, ""), len);
		ast_channel_datastore_remove(chan, datastore);
	}
	ast_channel_unlock(chan);
	if (!datastore) {
		return 0;
	}
	ast_datastore_free(datastore);
	return 1;
}

void res_cluster_cli_print(int fd, const char *text)
{
	ast_cli(fd, "%s", text);
}

/*
 * PJSIP_INHERITABLE_HEADER keeps a channel's headers in one datastore of
 * res_pjsip_header_funcs, created with inheritance DATASTORE_INHERIT_FOREVER:
 * every channel made from this one, and every channel made from those, would
 * send them. Found here by its type name, as that module names it.
 */
static struct ast_datastore *inheritable_headers(struct ast_channel *chan)
{
	struct ast_datastore *datastore;

	AST_LIST_TRAVERSE(ast_channel_datastores(chan), datastore, entry) {
		if (datastore->info && datastore->info->type
			&& !strcmp(datastore->info->type, "inheritable_header_datastore")) {
			return datastore;
		}
	}
	return NULL;
}

int res_cluster_has_inheritable_headers(struct ast_channel *chan)
{
	struct ast_datastore *datastore;
	int found;

	ast_channel_lock(chan);
	datastore = inheritable_headers(chan);
	/* Removing the last header (PJSIP_INHERITABLE_HEADER(remove,...)) leaves
	 * the datastore on the channel with no list: a channel whose one header
	 * was res_cluster's own, taken off after an earlier Dial, has no headers
	 * of its own. */
	found = datastore && datastore->data;
	ast_channel_unlock(chan);
	return found;
}

void res_cluster_inherit_headers_once(struct ast_channel *chan)
{
	struct ast_datastore *datastore;

	ast_channel_lock(chan);
	datastore = inheritable_headers(chan);
	if (datastore) {
		/* A leg Dial makes gets a copy with 1, which it must have to send
		 * the headers (res_pjsip_header_funcs sends them only from a copy
		 * whose inheritance is not 0); a channel made from the leg, or the
		 * Local channel of a transfer and the channels made from its other
		 * half, get 0 or nothing, and send nothing. */
		datastore->inheritance = 2;
	}
	ast_channel_unlock(chan);
}

void res_cluster_inherit_headers_restore(struct ast_channel *chan)
{
	struct ast_datastore *datastore;

	ast_channel_lock(chan);
	datastore = inheritable_headers(chan);
	if (datastore) {
		/* With headers left, the inheritance PJSIP_INHERITABLE_HEADER gives
		 * them. With none (removing the last one leaves the datastore with
		 * no list), none at all: a channel made from this one would copy the
		 * datastore through its duplicate callback, ast_variables_dup, which
		 * dereferences the list it is given. Adding a header again makes it
		 * inheritable again (add_inheritable_header does so when it finds
		 * inheritance 0). */
		datastore->inheritance = datastore->data ? DATASTORE_INHERIT_FOREVER : 0;
	}
	ast_channel_unlock(chan);
}

int res_cluster_add_extension(const char *context, const char *exten, int priority, const char *app,
	const char *arg, const char *registrar)
{
	struct ast_context *con;
	char *data = ast_strdup(arg);
	int res;

	if (!data) {
		return -1;
	}
	/* As ast_add_extension does, but freeing data when the context is not
	 * there (ast_add_extension then returns -1 without having given data to
	 * anyone). The context is looked up by name under the dialplan's lock
	 * (ast_rdlock_contexts: the recursive mutex conlock), which is held
	 * across the addition so that a dialplan reload cannot free the context
	 * meanwhile; ast_context_find takes that lock again, as a recursive
	 * mutex allows. ast_add_extension2 hands data to the new
	 * extension, or frees it with datad (ast_free_ptr, a core function) when
	 * it fails; the extension keeps the registrar pointer as given. */
	ast_rdlock_contexts();
	con = ast_context_find(context);
	if (!con) {
		ast_unlock_contexts();
		ast_free(data);
		return -1;
	}
	res = ast_add_extension2(con, 1, exten, priority, NULL, NULL, app, data, ast_free_ptr, registrar, NULL, 0);
	ast_unlock_contexts();
	return res;
}

/*
 * Registrations shared between nodes (res_cluster_core::replica): this
 * node's contacts as res_pjsip's registrar creates, refreshes and removes
 * them (a sorcery observer), sent to each peer through an outbound-publish
 * of event res-cluster-contacts (res_pjsip_outbound_publish), and the
 * peers' received through a publish handler of res_pjsip_pubsub. Bodies
 * are JSON, read and written with Asterisk's own.
 *
 * pjproject's and res_pjsip_pubsub's headers are not part of what the
 * module includes (pubsub's needs pjproject's); the few members read here
 * are declared as those headers declare them, unchanged from Asterisk 20.0
 * to master and in pjproject 2.x (which Asterisk requires): pj_str_t, pjsip_param,
 * pjsip_media_type, the head of pjsip_msg_body, and the publish and event
 * publisher handlers.
 */
struct res_cluster_pj_str {
	char *ptr;
	long slen;
};

struct res_cluster_pjsip_param {
	void *prev;
	void *next;
	struct res_cluster_pj_str name;
	struct res_cluster_pj_str value;
};

struct res_cluster_pjsip_msg_body {
	/* pjsip_media_type content_type */
	struct res_cluster_pj_str type;
	struct res_cluster_pj_str subtype;
	struct res_cluster_pjsip_param param;
	void *data;
	unsigned len;
};

struct ast_sip_publication;

/* enum ast_sip_publish_state (res_pjsip_pubsub.h): INITIALIZED, ACTIVE,
 * TERMINATED. */
enum res_cluster_publish_state {
	RES_CLUSTER_PUBLISH_INITIALIZED,
	RES_CLUSTER_PUBLISH_ACTIVE,
	RES_CLUSTER_PUBLISH_TERMINATED,
};

struct res_cluster_publish_handler {
	const char *event_name;
	struct ao2_container *publications;
	int (*new_publication)(struct ast_sip_endpoint *endpoint, const char *resource, const char *event_configuration);
	void (*publish_expire)(struct ast_sip_publication *pub);
	int (*publication_state_change)(struct ast_sip_publication *pub, struct res_cluster_pjsip_msg_body *body, enum res_cluster_publish_state state);
	struct { struct res_cluster_publish_handler *next; } next;
};

struct res_cluster_event_publisher_handler {
	const char *event_name;
	int (*start_publishing)(void *configuration, struct ast_sip_outbound_publish_client *client);
	int (*stop_publishing)(struct ast_sip_outbound_publish_client *client);
	struct { struct res_cluster_event_publisher_handler *next; } next;
};

static struct {
	int (*register_publish)(struct res_cluster_publish_handler *handler);
	void (*unregister_publish)(struct res_cluster_publish_handler *handler);
	struct ast_sip_endpoint *(*publication_endpoint)(struct ast_sip_publication *pub);
	int (*register_publisher)(struct res_cluster_event_publisher_handler *handler);
	void (*unregister_publisher)(struct res_cluster_event_publisher_handler *handler);
	int (*user_send)(struct ast_sip_outbound_publish_client *client, const char *user, const struct res_cluster_sip_body *body);
	void (*remove)(struct ast_sip_outbound_publish_client *client, const char *user);
} contacts_api;

/* What Rust is told: a contact's change (op 0 created, 1 updated, 2
 * deleted; its fields as res_cluster_pjsip_object writes them), whether a
 * publication from an endpoint is taken, a body received (the JSON, and the
 * sending endpoint), an outbound-publish started. */
static struct res_cluster_contact_callbacks contact_cbs;

/*
 * Calls into Rust, and sends, are counted, and refused once unregistering
 * has begun: unregister waits until none is running. pubsub calls a publish
 * handler it looked up without holding its list's lock, so this count is
 * what stands between a PUBLISH being handled and the module going away.
 * What it cannot cover is a PUBLISH that pubsub matched to the handler
 * before it was unregistered and that has not reached a callback yet
 * (pubsub still looks up the publication and its inbound-publication in
 * between): Asterisk's own publish handlers share that window, which only
 * pubsub could close.
 */
static int contacts_active;
static int contacts_busy;

static int contacts_enter(void)
{
	__atomic_add_fetch(&contacts_busy, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&contacts_active, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&contacts_busy, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	return 1;
}

static void contacts_leave(void)
{
	__atomic_sub_fetch(&contacts_busy, 1, __ATOMIC_SEQ_CST);
}

static void contact_changed(int op, const void *object)
{
	struct ast_str *text;

	if (!contacts_enter()) {
		return;
	}
	text = ast_str_create(512);
	if (text) {
		append_object(&text, object);
		contact_cbs.changed(op, ast_str_buffer(text));
		ast_free(text);
	}
	contacts_leave();
}

static void contact_created(const void *object)
{
	contact_changed(0, object);
}

static void contact_updated(const void *object)
{
	contact_changed(1, object);
}

static void contact_deleted(const void *object)
{
	contact_changed(2, object);
}

static const struct ast_sorcery_observer contact_observer = {
	.created = contact_created,
	.updated = contact_updated,
	.deleted = contact_deleted,
};

static int contacts_new_publication(struct ast_sip_endpoint *endpoint, const char *resource, const char *event_configuration)
{
	int res;

	if (!contacts_enter()) {
		return 503;
	}
	/* 200 when the endpoint is a configured peer's, else 403. */
	res = contact_cbs.accept(ast_sorcery_object_get_id(endpoint)) ? 200 : 403;
	contacts_leave();
	return res;
}

/*
 * A body refused is logged and dropped; the publication stays (0): on a
 * refresh or modify pubsub would end the publication on a non-zero return
 * yet still answer 200, and the peer would learn it only from a 412 on its
 * next PUBLISH.
 */
static int contacts_state_change(struct ast_sip_publication *pub, struct res_cluster_pjsip_msg_body *body, enum res_cluster_publish_state state)
{
	struct ast_sip_endpoint *endpoint;
	const char *from;
	struct ast_json_error error;
	struct ast_json *json;

	/* An unpublish (state TERMINATED), or a refresh without a body. */
	if (state == RES_CLUSTER_PUBLISH_TERMINATED || !body || !body->len) {
		return 0;
	}
	if (!contacts_enter()) {
		return 0;
	}
	/* Borrowed: the publication holds its endpoint. */
	endpoint = contacts_api.publication_endpoint(pub);
	from = endpoint ? ast_sorcery_object_get_id(endpoint) : "";
	if (body->type.slen != 11 || strncasecmp(body->type.ptr, "application", 11)
		|| body->subtype.slen != 4 || strncasecmp(body->subtype.ptr, "json", 4)) {
		contact_cbs.refused(from, "its body is not application/json");
	} else if (body->len > contact_cbs.max_body) {
		contact_cbs.refused(from, "its body is larger than res_cluster takes");
	} else if (!(json = ast_json_load_buf(body->data, body->len, &error))) {
		/* pjproject's body text is not NUL-terminated: read with its length. */
		char why[256];

		snprintf(why, sizeof(why), "its body is not JSON (%s, line %d)", error.text, error.line);
		contact_cbs.refused(from, why);
	} else {
		/* Rust logs what it refuses. */
		contact_cbs.received(from, json);
		ast_json_unref(json);
	}
	contacts_leave();
	return 0;
}

static int contacts_start_publishing(void *configuration, struct ast_sip_outbound_publish_client *client)
{
	if (contacts_enter()) {
		contact_cbs.started(ast_sorcery_object_get_id(configuration));
		contacts_leave();
	}
	return 0;
}

static int contacts_stop_publishing(struct ast_sip_outbound_publish_client *client)
{
	return 0;
}

static struct res_cluster_event_publisher_handler contacts_publisher = {
	.event_name = "res-cluster-contacts",
	.start_publishing = contacts_start_publishing,
	.stop_publishing = contacts_stop_publishing,
};

/*
 * The publish handler lives on the heap, and is left there when the module
 * goes (with a reference to its publications): a publication received
 * before still has its expiry scheduled, and when it fires pubsub unlinks it
 * from handler->publications and reads handler->publish_expire (NULL here),
 * both through the handler pointer it kept, after the handler is
 * unregistered. A few dozen bytes per unload.
 */
static struct res_cluster_publish_handler *contacts_handler;

/* Which parts are registered, for unregistering. */
static int contacts_registered;

/*
 * After the event's publisher handler is unregistered: every outbound-publish
 * of the event has had its publisher for user "" unpublished and marked for
 * destruction, yet left linked to its client. Unlinked here (the publisher
 * finishes its unpublish and goes), so that the next load's first body
 * makes a new one. Only the outbound-publishes of this event: unlinking a
 * live publisher of another event would stop it.
 */
static void forget_publishers(void)
{
	struct ast_variable *event = ast_variable_new("event", "res-cluster-contacts", "");
	struct ao2_container *publishes;
	struct ao2_iterator i;
	void *publish;

	if (!event || !publish_api.get || !contacts_api.remove) {
		ast_variables_destroy(event);
		return;
	}
	publishes = ast_sorcery_retrieve_by_fields(pjsip_api.sorcery(), "outbound-publish", AST_RETRIEVE_FLAG_MULTIPLE, event);
	ast_variables_destroy(event);
	if (!publishes) {
		return;
	}
	i = ao2_iterator_init(publishes, 0);
	while ((publish = ao2_iterator_next(&i))) {
		struct ast_sip_outbound_publish_client *client = publish_api.get(ast_sorcery_object_get_id(publish));

		if (client) {
			contacts_api.remove(client, "");
			ao2_ref(client, -1);
		}
		ao2_ref(publish, -1);
	}
	ao2_iterator_destroy(&i);
	ao2_ref(publishes, -1);
}

int res_cluster_contacts_register(const struct res_cluster_contact_callbacks *callbacks)
{
	contact_cbs = *callbacks;
	*(void **) &contacts_api.register_publish = dlsym(RTLD_DEFAULT, "ast_sip_register_publish_handler");
	*(void **) &contacts_api.unregister_publish = dlsym(RTLD_DEFAULT, "ast_sip_unregister_publish_handler");
	*(void **) &contacts_api.publication_endpoint = dlsym(RTLD_DEFAULT, "ast_sip_publication_get_endpoint");
	*(void **) &contacts_api.register_publisher = dlsym(RTLD_DEFAULT, "ast_sip_register_event_publisher_handler");
	*(void **) &contacts_api.unregister_publisher = dlsym(RTLD_DEFAULT, "ast_sip_unregister_event_publisher_handler");
	*(void **) &contacts_api.user_send = dlsym(RTLD_DEFAULT, "ast_sip_publish_client_user_send");
	*(void **) &contacts_api.remove = dlsym(RTLD_DEFAULT, "ast_sip_publish_client_remove");
	if (!contacts_api.user_send || !contacts_api.remove || !pjsip_api.sorcery || !contacts_api.register_publish || !contacts_api.unregister_publish
		|| !contacts_api.publication_endpoint || !contacts_api.register_publisher
		|| !contacts_api.unregister_publisher || !publish_api.send || !publish_api.get) {
		return -1;
	}
	contacts_handler = ast_calloc(1, sizeof(*contacts_handler));
	if (!contacts_handler) {
		return -1;
	}
	contacts_handler->event_name = "res-cluster-contacts";
	contacts_handler->new_publication = contacts_new_publication;
	contacts_handler->publication_state_change = contacts_state_change;
	__atomic_store_n(&contacts_active, 1, __ATOMIC_SEQ_CST);
	if (ast_sorcery_observer_add(pjsip_api.sorcery(), "contact", &contact_observer)) {
		res_cluster_contacts_unregister();
		return -1;
	}
	contacts_registered = 1;
	if (contacts_api.register_publish(contacts_handler)) {
		res_cluster_contacts_unregister();
		return -1;
	}
	contacts_registered = 2;
	/* Starts the outbound-publishes of the event at once: `started` runs
	 * from inside this call. */
	if (contacts_api.register_publisher(&contacts_publisher)) {
		res_cluster_contacts_unregister();
		return -1;
	}
	contacts_registered = 3;
	return 0;
}

/* Waits until no call into Rust and no send is running (each is short; the
 * module's code must stay until the last one has left, however long). */
static void contacts_wait_idle(void)
{
	int waited;

	for (waited = 0; __atomic_load_n(&contacts_busy, __ATOMIC_SEQ_CST) > 0; waited++) {
		if (waited && waited % 10000 == 0) {
			ast_log(LOG_WARNING, "res_cluster: unloading waits for a registrations callback still running (%d s)\n", waited / 1000);
		}
		usleep(1000);
	}
}

void res_cluster_contacts_unregister(void)
{
	/* Nothing new enters Rust or sends from here; what is running ends
	 * first, so that no send makes a publisher after they are let go of. */
	__atomic_store_n(&contacts_active, 0, __ATOMIC_SEQ_CST);
	contacts_wait_idle();
	if (contacts_registered >= 3) {
		/* Unpublishes to the peers (they keep what they hold until it
		 * expires). */
		contacts_api.unregister_publisher(&contacts_publisher);
		forget_publishers();
	}
	if (contacts_registered >= 2) {
		ao2_ref(contacts_handler->publications, +1);
		contacts_api.unregister_publish(contacts_handler);
		contacts_handler = NULL;
	} else {
		ast_free(contacts_handler);
		contacts_handler = NULL;
	}
	if (contacts_registered >= 1) {
		ast_sorcery_observer_remove(pjsip_api.sorcery(), "contact", &contact_observer);
	}
	contacts_registered = 0;
	/* A callback pubsub or sorcery was already in when the flag went down. */
	contacts_wait_idle();
}

/*
 * Bodies go out through the outbound-publish's publisher for user "" (its
 * only one, unless multi_user): unregistering the event's handler at unload
 * has res_pjsip_outbound_publish unpublish and destroy its publishers, and
 * registering it again at the next load does not make new ones. Unregister
 * unlinks the dying publishers (forget_publishers), so that the first body
 * after the next load creates a new one.
 */
int res_cluster_publish_json(const char *outbound_publish, struct ast_json *json)
{
	struct ast_sip_outbound_publish_client *client;
	struct res_cluster_sip_body body = { .type = "application", .subtype = "json" };
	char *text;
	int res = -1;

	/* Not once unregistering has begun: a publisher made after the dying
	 * one was let go of would never be unpublished. */
	if (!contacts_enter()) {
		return -1;
	}
	if (!publish_api.get || !contacts_api.user_send || !(client = publish_api.get(outbound_publish))) {
		contacts_leave();
		return -1;
	}
	text = ast_json_dump_string(json);
	if (text) {
		body.body_text = text;
		res = contacts_api.user_send(client, "", &body);
		ast_json_free(text);
	}
	ao2_ref(client, -1);
	contacts_leave();
	return res;
}

/*
 * AMI actions ClusterStatus and ClusterPeers. Their text comes from Rust
 * (`source`: 0 the status fields, 1 the peers' entries separated by
 * "\x1e"), as "Key: value\r\n" lines, and goes back to Rust to be freed.
 */
static char *(*ami_source)(int which);
static void (*ami_free)(char *text);

static void ami_id(const struct message *m, char *buf, size_t len)
{
	const char *id = astman_get_header(m, "ActionID");

	if (ast_strlen_zero(id)) {
		buf[0] = '\0';
	} else {
		snprintf(buf, len, "ActionID: %s\r\n", id);
	}
}

static int ami_cluster_status(struct mansession *s, const struct message *m)
{
	char id[256];
	char *text = ami_source ? ami_source(0) : NULL;

	if (!text) {
		astman_send_error(s, m, "res_cluster has no configuration in force");
		return 0;
	}
	ami_id(m, id, sizeof(id));
	astman_append(s, "Response: Success\r\n%s%s\r\n", id, text);
	ami_free(text);
	return 0;
}

static int ami_cluster_peers(struct mansession *s, const struct message *m)
{
	char id[256];
	char *text = ami_source ? ami_source(1) : NULL;
	char *entry, *rest;
	int count = 0;

	if (!text) {
		astman_send_error(s, m, "res_cluster has no configuration in force");
		return 0;
	}
	ami_id(m, id, sizeof(id));
	astman_send_listack(s, m, "Peers will follow", "start");
	for (rest = text; (entry = strsep(&rest, "\x1e"));) {
		if (!ast_strlen_zero(entry)) {
			astman_append(s, "Event: ClusterPeerEntry\r\n%s%s\r\n", id, entry);
			count++;
		}
	}
	astman_send_list_complete_start(s, m, "ClusterPeerlistComplete", count);
	astman_send_list_complete_end(s);
	ami_free(text);
	return 0;
}

int res_cluster_ami_register(char *(*source)(int which), void (*release)(char *text))
{
	ami_source = source;
	ami_free = release;
	if (ast_manager_register_xml("ClusterStatus", EVENT_FLAG_SYSTEM | EVENT_FLAG_REPORTING, ami_cluster_status)) {
		return -1;
	}
	if (ast_manager_register_xml("ClusterPeers", EVENT_FLAG_SYSTEM | EVENT_FLAG_REPORTING, ami_cluster_peers)) {
		ast_manager_unregister("ClusterStatus");
		return -1;
	}
	return 0;
}

void res_cluster_ami_unregister(void)
{
	ast_manager_unregister("ClusterStatus");
	ast_manager_unregister("ClusterPeers");
}

char *res_cluster_strdup(const char *text)
{
	return ast_strdup(text);
}

int res_cluster_manager_event(const char *event, const char *body)
{
	return manager_event(EVENT_FLAG_SYSTEM, event, "%s", body);
}

/* The loader checks the key and the build-option sum before calling load;
 * both come from the headers this file was compiled against. app_dial (the
 * Dial that ClusterDial drives) is required. res_pjsip,
 * res_pjsip_outbound_publish and res_prometheus are optional: their APIs
 * probe a peer gone silent, ask a peer for its device states and serve the
 * metrics; app_stack runs Dial's pre-dial handler (the marking of peer legs
 * before PJSIP_INHERITABLE_HEADER, on IAX2 legs, and with peer_leg_marking =
 * predial: load and reload refuse a configuration that needs it while it is
 * not loaded). When present they must be loaded first and stay loaded while
 * res_cluster is. (An optional module that is present but fails to load
 * fails res_cluster too: the loader says so.) Nothing else is named: the PJSIP
 * header functions are looked up by name when a call needs them, so naming
 * chan_pjsip or res_pjsip_header_funcs here would only stop them from being
 * unloaded or refreshed while res_cluster is loaded. */
AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_LOAD_ORDER, "Cluster dialling across redundant Asterisk nodes",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = res_cluster_load,
	.unload = res_cluster_unload,
	.reload = res_cluster_reload,
	.load_pri = AST_MODPRI_DEFAULT,
	.requires = "app_dial",
	.optional_modules = "res_pjsip,res_pjsip_pubsub,res_pjsip_outbound_publish,res_prometheus,app_stack",
);
