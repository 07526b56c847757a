/**
 * Paperclip integration: the agentos_local adapter (adapter.ts, bundled into the installed package by bundle.ts and
 * run inside Paperclip's Node server) and its installer (install.ts, used by `paperclip-aos paperclip ...`).
 */
export { createAgentosAdapter, configSchema, sessionManagement, MODELS, PRESETS, AGENT_CONFIGURATION_DOC, type AdapterOptions } from "./adapter.ts";
export { sessionCodec } from "./codec.ts";
export { buildRequest, priorSession, configEnv, configEngine, configPolicy, inheritedEnv, runArgs, ADAPTER_TYPE, AGENT_CHOICES, type AosRunRequest, type PromptHelpers } from "./request.ts";
export { toExecutionResult, type ProcessEnd } from "./result.ts";
export { execute } from "./execute.ts";
export { parseStdoutLine } from "./ui-parser.ts";
export { adapterBundle, buildAdapterBundle, checkUiParser, UI_PARSER_MAX_BYTES, type AdapterBundle } from "./bundle.ts";
export {
  writeAdapterPackage,
  installAdapter,
  readAdapterPackage,
  removeAdapterPackage,
  register,
  registration,
  unregister,
  resolveTarget,
  selfCommand,
  packageDir,
  PACKAGE_NAME,
  type Target,
  type Registration,
  type InstalledPackage,
} from "./install.ts";
