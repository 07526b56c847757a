/**
 * paperclip-aos as a library: the parts the CLI is made of, one namespace per module (each module's own index.ts is
 * its public face). `import { heartbeat, caps } from "paperclip-aos"`.
 */
export * as caps from "./caps/index.ts";
export * as gateway from "./gateway/index.ts";
export * as heartbeat from "./heartbeat/index.ts";
export * as protocol from "./protocol/index.ts";
export * as runtime from "./runtime/index.ts";
export * as snapshot from "./snapshot/index.ts";
export * as tools from "./tools/index.ts";
export { AosError, ExitCode, isAosError, runtimeError, usageError } from "./errors.ts";
export { cacheDir, stateDir } from "./paths.ts";
export { GUEST_HOME, GUEST_WORKSPACE } from "./guest.ts";
export { buildInfo, VERSION } from "./version.ts";
