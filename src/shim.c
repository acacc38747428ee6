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

struct stasis_subscription *res_cluster_contact_status_subscribe(
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message), void *data)
{
	struct stasis_subscription *sub = stasis_subscribe_pool(ast_endpoint_topic_all(), callback, data);

	if (sub) {
		stasis_subscription_accept_message_type(sub, ast_endpoint_contact_state_type());
		stasis_subscription_set_filter(sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	}
	return sub;
}

void res_cluster_contact_status_unsubscribe(struct stasis_subscription *sub)
{
	stasis_unsubscribe_and_join(sub);
}

int res_cluster_contact_status_read(struct stasis_message *message, char *endpoint, size_t endpoint_len,
	char *status, size_t status_len)
{
	struct ast_endpoint_blob *blob;

	if (stasis_message_type(message) != ast_endpoint_contact_state_type()) {
		return 0;
	}
	blob = stasis_message_data(message);
	if (!blob || !blob->blob) {
		return 0;
	}
	ast_copy_string(endpoint, S_OR(ast_json_string_get(ast_json_object_get(blob->blob, "endpoint_name")), ""), endpoint_len);
	ast_copy_string(status, S_OR(ast_json_string_get(ast_json_object_get(blob->blob, "contact_status")), ""), status_len);
	return 1;
}

int res_cluster_ao2_ref(void *obj, int delta)
{
	return ao2_ref(obj, delta);
}

int res_cluster_register_application(const char *name, int (*execute)(struct ast_channel *, const char *))
{
	return ast_register_application_xml(name, execute);
}

int res_cluster_cli_register(struct ast_cli_entry *entries, int count)
{
	return ast_cli_register_multiple(entries, count);
}

void res_cluster_cli_print(int fd, const char *text)
{
	ast_cli(fd, "%s", text);
}

int res_cluster_manager_event(const char *event, const char *body)
{
	return manager_event(EVENT_FLAG_SYSTEM, event, "%s", body);
}

/* The loader checks the key and the build-option sum before calling load;
 * both come from the headers this file was compiled against. app_dial (the
 * Dial that ClusterDial drives) is required; the PJSIP modules, whose
 * header functions mark and read the hop header, load first when present. */
AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_LOAD_ORDER, "Cluster dialling across redundant Asterisk nodes",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = res_cluster_load,
	.unload = res_cluster_unload,
	.reload = res_cluster_reload,
	.load_pri = AST_MODPRI_DEFAULT,
	.requires = "app_dial",
	.optional_modules = "chan_pjsip,res_pjsip,res_pjsip_header_funcs",
);
