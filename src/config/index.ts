/**
 * Config files (user and project level) for the defaults of `run` and `exec`: agent, model, preset, timeout, grace;
 * the engine of `run` (user level only).
 *
 *   const config = loadConfig({ cwd: process.cwd() });   // throws usageError (exit 2) naming the file and field
 *   config.values.model                                  // project over user; undefined when neither sets it
 */
export { CONFIG_KEYS, USER_ONLY_KEYS, ConfigSchema, configJsonSchema, type Config, type ConfigKey } from "./schema.ts";
export { findProjectConfig, loadConfig, withConfigPreset, PROJECT_CONFIG_NAME, readConfigFile, type ConfigFile, type ConfigLevel, type LoadedConfig } from "./load.ts";
