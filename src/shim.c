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

int res_cluster_dialed_causes(struct ast_channel *chan, char *buf, size_t len)
{
	struct ast_str *names;
	int copied = -1;

	ast_channel_lock(chan);
	names = ast_channel_dialed_causes_channels(chan);
	ast_channel_unlock(chan);
	if (names) {
		if (ast_str_strlen(names) && len) {
			ast_copy_string(buf, ast_str_buffer(names), len);
			copied = strlen(buf);
		}
		ast_free(names);
	}
	return copied;
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
		stasis_subscription_set_filter(sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	}
	return sub;
}

void res_cluster_endpoint_state_unsubscribe(struct stasis_subscription *sub)
{
	stasis_unsubscribe_and_join(sub);
}

int res_cluster_endpoint_state_read(struct stasis_message *message, char *tech, size_t tech_len,
	char *resource, size_t resource_len, int *state)
{
	struct ast_endpoint_blob *blob;

	if (stasis_message_type(message) != ast_endpoint_state_type()) {
		return 0;
	}
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
 * functions are looked up when a probe is sent. res_cluster names it in
 * .optional_modules, so when it is present it was loaded first and cannot
 * be unloaded while res_cluster is loaded.
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

typedef struct ast_sorcery *(*get_sorcery_fn)(void);
typedef int (*create_request_fn)(const char *method, struct pjsip_dialog *dlg, struct ast_sip_endpoint *endpoint,
	const char *uri, struct ast_sip_contact *contact, struct pjsip_tx_data **tdata);
typedef int (*send_ood_fn)(struct pjsip_tx_data *tdata, struct ast_sip_endpoint *endpoint, int timeout, void *token,
	void (*callback)(void *token, struct pjsip_event *e));
typedef int (*push_task_fn)(struct ast_taskprocessor *serializer, int (*task)(void *), void *data,
	const char *file, int line, const char *function);

struct probe {
	res_cluster_probe_done done;
	int timeout_ms;
	create_request_fn create_request;
	send_ood_fn send;
	get_sorcery_fn sorcery;
	char endpoint[];
};

static void probe_finish(struct probe *probe, int answered)
{
	probe->done(probe->endpoint, answered);
	ast_free(probe);
	/* Taken when the probe was pushed: the module stays loaded until every
	 * callback into it has run. */
	ast_module_unref(AST_MODULE_SELF);
}

static void probe_response(void *token, struct pjsip_event *e)
{
	const struct res_cluster_pjsip_event *event = (const void *) e;

	probe_finish(token, event->type == RES_CLUSTER_PJSIP_EVENT_TSX_STATE
		&& event->body.tsx_state.type == RES_CLUSTER_PJSIP_EVENT_RX_MSG);
}

/* Runs on a res_pjsip servant thread, where pjproject may be called. */
static int probe_send(void *data)
{
	struct probe *probe = data;
	struct ast_sip_endpoint *endpoint = ast_sorcery_retrieve_by_id(probe->sorcery(), "endpoint", probe->endpoint);
	struct pjsip_tx_data *tdata;

	if (!endpoint || probe->create_request("OPTIONS", NULL, endpoint, NULL, NULL, &tdata)) {
		ao2_cleanup(endpoint);
		probe_finish(probe, 0);
		return 0;
	}
	/* On failure the request is freed and the callback does not run. */
	if (probe->send(tdata, endpoint, probe->timeout_ms, probe, probe_response)) {
		probe_finish(probe, 0);
	}
	ao2_ref(endpoint, -1);
	return 0;
}

int res_cluster_pjsip_probe(const char *endpoint, int timeout_ms, res_cluster_probe_done done)
{
	struct probe *probe;
	push_task_fn push = (push_task_fn) dlsym(RTLD_DEFAULT, "__ast_sip_push_task");
	get_sorcery_fn sorcery = (get_sorcery_fn) dlsym(RTLD_DEFAULT, "ast_sip_get_sorcery");
	create_request_fn create_request = (create_request_fn) dlsym(RTLD_DEFAULT, "ast_sip_create_request");
	send_ood_fn send = (send_ood_fn) dlsym(RTLD_DEFAULT, "ast_sip_send_out_of_dialog_request");

	if (!push || !sorcery || !create_request || !send || !ast_module_check("res_pjsip.so")) {
		return -1;
	}
	probe = ast_calloc(1, sizeof(*probe) + strlen(endpoint) + 1);
	if (!probe) {
		return -1;
	}
	strcpy(probe->endpoint, endpoint); /* Safe: allocated for it. */
	probe->done = done;
	probe->timeout_ms = timeout_ms;
	probe->create_request = create_request;
	probe->send = send;
	probe->sorcery = sorcery;
	ast_module_ref(AST_MODULE_SELF);
	if (push(NULL, probe_send, probe, __FILE__, __LINE__, __PRETTY_FUNCTION__)) {
		ast_free(probe);
		ast_module_unref(AST_MODULE_SELF);
		return -1;
	}
	return 0;
}

int res_cluster_ao2_ref(void *obj, int delta)
{
	return ao2_ref(obj, delta);
}

int res_cluster_register_application(const char *name, int (*execute)(struct ast_channel *, const char *))
{
	return ast_register_application_xml(name, execute);
}

int res_cluster_cli_register(struct ast_cli_entry *entry)
{
	return ast_cli_register(entry);
}

/*
 * The leg mark: a datastore that the calling channel carries while Dial
 * creates the legs to peers, inherited once by each new leg (inheritance 1:
 * the leg's copy has 0 and goes no further), where the pre-dial handler reads
 * it from the uid and removes it.
 *
 * Copies made by ast_channel_datastore_inherit do not reference this module,
 * and a leg can outlive the call that made it. So nothing of the datastore
 * may live in this module: its type structure and type string are allocated
 * once from Asterisk's heap and never freed, it has no callbacks, and the
 * mark is the uid, which the core copies and frees.
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
	ast_channel_lock(chan);
	ast_channel_datastore_remove(chan, datastore);
	ast_channel_unlock(chan);
	ast_datastore_free(datastore);
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
	int found;

	ast_channel_lock(chan);
	found = inheritable_headers(chan) != NULL;
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

int res_cluster_add_extension(struct ast_context *con, const char *exten, int priority, const char *app,
	const char *arg, const char *registrar)
{
	char *data = ast_strdup(arg);

	if (!data) {
		return -1;
	}
	/* The extension owns data from here on, success or not, and frees it
	 * with ast_free_ptr, a core function. */
	return ast_add_extension2(con, 1, exten, priority, NULL, NULL, app, data, ast_free_ptr, registrar, NULL, 0);
}

int res_cluster_manager_event(const char *event, const char *body)
{
	return manager_event(EVENT_FLAG_SYSTEM, event, "%s", body);
}

/* The loader checks the key and the build-option sum before calling load;
 * both come from the headers this file was compiled against. app_dial (the
 * Dial that ClusterDial drives) is required. res_pjsip is optional: its
 * API probes a peer gone silent, and when present it must be loaded first
 * and stay loaded while res_cluster is. Nothing else is named: the PJSIP
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
	.optional_modules = "res_pjsip",
);
