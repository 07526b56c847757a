import type { CommandDef } from "citty";

/** The lazy registry: a command's module (and agentOS with it) loads only when that command runs. */
export const commands = {
  run: () => import("./run.ts").then((m) => m.default),
  exec: () => import("./exec.ts").then((m) => m.default),
  doctor: () => import("./doctor.ts").then((m) => m.default),
  version: () => import("./version.ts").then((m) => m.default),
  tool: () => import("./tool/index.ts").then((m) => m.default),
  caps: () => import("./caps/index.ts").then((m) => m.default),
  snapshot: () => import("./snapshot/index.ts").then((m) => m.default),
  eval: () => import("./eval.ts").then((m) => m.default),
  serve: () => import("./serve.ts").then((m) => m.default),
  worker: () => import("./worker.ts").then((m) => m.default),
  session: () => import("./session/index.ts").then((m) => m.default),
  cache: () => import("./cache/index.ts").then((m) => m.default),
  config: () => import("./config/index.ts").then((m) => m.default),
  completion: () => import("./completion.ts").then((m) => m.default),
  paperclip: () => import("./paperclip/index.ts").then((m) => m.default),
  engine: () => import("./engine/index.ts").then((m) => m.default),
} satisfies Record<string, () => Promise<CommandDef<any>>>;

export type TopCommand = keyof typeof commands;

/**
 * One line per command for the root `--help`, kept here so that printing it loads no command module (the run
 * command alone pulls in agentOS and zod). A command missing here is a type error.
 */
export const summaries: Record<TopCommand, string> = {
  run: "one Paperclip heartbeat through agentOS: Pi, OpenCode, Claude Code or Codex in a VM, NDJSON transcript, resumable sessions",
  exec: "run a shell command in a VM with the current directory at /workspace",
  caps: "capability policies: check, explain, test, schema",
  tool: "typed host tools: list, schema, invoke",
  snapshot: "snapshot roots: build, ls, inspect, rm, gc (then exec/run --snapshot NAME)",
  serve: "the warm worker: run and exec start faster on its warm sidecar (serve --status shows it)",
  worker: "a worker of a Rivet engine: hosts session actors, so heartbeats spread over machines (run --engine)",
  session: "the sessions run keeps per (agent id, task key): ls, show, rm",
  cache: "the extracted runtime in the cache dir: ls (versions, sizes), clean",
  paperclip: "the Paperclip adapter agentos_local: install, status, uninstall",
  engine: "the Rivet engine parts for heartbeats beyond one machine: install, status, start",
  doctor: "check that agentOS works on this machine",
  version: "versions of paperclip-aos, agentOS core and Bun",
  eval: "measure agentOS against the agents' host CLIs and answer the plan's questions in a report",
  config: "config files for the defaults of run and exec: show, schema",
  completion: "shell completion: completion bash|zsh|fish",
};

/** Every runnable command line ("exec", "caps check", ...). test/e2e/commands.test.ts needs an entry for each. */
export type CommandPath =
  | Exclude<TopCommand, "caps" | "tool" | "snapshot" | "session" | "cache" | "config" | "paperclip" | "engine">
  | `config ${keyof (typeof import("./config/index.ts"))["subCommands"]}`
  | `caps ${keyof (typeof import("./caps/index.ts"))["subCommands"]}`
  | `tool ${keyof (typeof import("./tool/index.ts"))["subCommands"]}`
  | `snapshot ${keyof (typeof import("./snapshot/index.ts"))["subCommands"]}`
  | `session ${keyof (typeof import("./session/index.ts"))["subCommands"]}`
  | `cache ${keyof (typeof import("./cache/index.ts"))["subCommands"]}`
  | `paperclip ${keyof (typeof import("./paperclip/index.ts"))["subCommands"]}`
  | `engine ${keyof (typeof import("./engine/index.ts"))["subCommands"]}`;
