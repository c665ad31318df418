/* config.h — the agent's configuration files in one include: agent.conf
 * (agent_conf.h), assets.conf (assets_conf.h) and rules/NAME.rules
 * (rules_conf.h), all read through the one INI layer (ini.h) with the one
 * set of typed values (values.h).  Include the single header where only
 * one file format is needed. */
#ifndef CANH_CONFIG_H
#define CANH_CONFIG_H

#include "common/agent_conf.h"
#include "common/assets_conf.h"
#include "common/rules_conf.h"
#include "common/values.h"

#endif
