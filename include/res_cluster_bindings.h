/*
 * res_cluster -- the Asterisk API as bindgen sees it.
 *
 * Copyright (C) 2026, the res_cluster authors
 *
 * This program is free software, distributed under the terms of
 * the GNU General Public License Version 2. See COPYING.
 */
#define AST_MODULE "res_cluster"
#define AST_MODULE_SELF_SYM __res_cluster_module_self

#include <asterisk.h>
#include <asterisk/module.h>
#include <asterisk/logger.h>
#include <asterisk/channel.h>
#include <asterisk/pbx.h>
#include <asterisk/app.h>
#include <asterisk/config.h>
#include <asterisk/paths.h>
#include <asterisk/options.h>
#include <asterisk/cli.h>
#include <asterisk/manager.h>
#include <asterisk/astobj2.h>
#include <asterisk/buildopts.h>
#include <asterisk/json.h>

#include "res_cluster_shim.h"
