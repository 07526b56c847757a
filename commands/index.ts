import type { CommandDef } from "citty";

/** The lazy registry: a command's module (and agentOS with it) loads only when that command runs. */
export const commands = {
  run: () => import("./run.ts").then((m) => m.default),
  exec: () => import("./exec.ts").then((m) => m.default),
  doctor: () => import("./doctor.ts").then((m) => m.default),
  version: () => import("./version.ts").then((m) => m.default),
  tool: () => import("./tool/index.ts").then((m) => m.default),
  caps: () => import("./caps/index.ts").then((m) => m.default),
} satisfies Record<string, () => Promise<CommandDef<any>>>;

export type TopCommand = keyof typeof commands;
