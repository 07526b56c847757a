import type { OfferedTool } from "./dialect.ts";
import type { Reply } from "./reply.ts";

/**
 * A script's tool steps are written in Pi's vocabulary (the script format is a public interface): bash {command},
 * read {path}, write {path, content}, edit {path, oldText, newText}. Every agent names these tools differently, so
 * the scripted model translates a step into the tool the request offers, and one script drives any agent:
 *
 * | script | Pi    | OpenCode                          | Claude Code                        | Codex                                   |
 * |--------|-------|-----------------------------------|------------------------------------|-----------------------------------------|
 * | bash   | bash  | bash {command, description}       | Bash {command}                     | exec_command {cmd} · shell_command {command} · shell {command: ["bash","-lc",…]} · local_shell |
 * | read   | read  | read {filePath}                   | Read {file_path}                   | its shell tool, bash builtins only      |
 * | write  | write | write {filePath, content}         | Bash: printf '%s' '…' > 'path'     | its shell tool, bash builtins only      |
 * | edit   | edit  | edit {filePath, oldString, newString} | Edit {file_path, old_string, new_string} | its shell tool, bash builtins only |
 *
 * Claude Code in agentOS offers only Bash, Edit and Read (no Write), so a write goes through its Bash (POSIX printf).
 * Codex has no file tools but apply_patch, which cannot run in agentOS 0.2.21 (it re-executes Codex's own binary:
 * "failed to determine codex exe" on WASI), and a program its shell starts hangs there (`cat`, `ls | wc`), while bash
 * builtins run (docs/gateway.md): so read, write and edit become builtin-only bash (`read -d ''`, `printf`, `${c/…/…}`).
 *
 * Rules: a step whose tool the agent offers by that exact name, with every input key that tool requires, is sent as
 * written (so a script may also speak an agent's own tools). Otherwise the first row entry the request offers is
 * used. Nothing fits: the step is sent as written and the gateway notes the mismatch (server.ts).
 */
export type ToolCall = Pick<NonNullable<Reply["tool"]>, "name" | "input" | "format">;

type Input = Record<string, unknown>;

interface Target {
  name: string;
  kind?: OfferedTool["kind"];
  /** The translated call, or undefined when the step's input lacks what the target needs. */
  map(input: Input, tool: OfferedTool): ToolCall | undefined;
}

const str = (x: unknown): string | undefined => (typeof x === "string" ? x : undefined);
/** A shell word in single quotes. */
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const fn = (name: string, input: Input | undefined): ToolCall | undefined => (input ? { name, input, format: "function" } : undefined);
const argv = (command: string) => ["bash", "-lc", command];

/** Pi's bash input (`command`, and a timeout in seconds), read once for every shell target. */
function shellTargets(): Target[] {
  const cmd = (i: Input) => str(i.command);
  return [
    { name: "bash", map: (i) => fn("bash", cmd(i) === undefined ? undefined : { description: cmd(i), ...i }) },
    { name: "Bash", map: (i) => fn("Bash", cmd(i) === undefined ? undefined : i) },
    { name: "shell_command", map: (i) => fn("shell_command", cmd(i) === undefined ? undefined : { command: cmd(i) }) },
    { name: "shell", map: (i) => fn("shell", cmd(i) === undefined ? undefined : { command: argv(cmd(i)!) }) },
    { name: "exec_command", map: (i) => fn("exec_command", cmd(i) === undefined ? undefined : { cmd: cmd(i) }) },
    {
      name: "local_shell",
      kind: "builtin",
      map: (i) => (cmd(i) === undefined ? undefined : { name: "local_shell", input: { command: argv(cmd(i)!) }, format: "local_shell" }),
    },
  ];
}

/** A file step done through the agent's shell tool, for an agent without that file tool (Codex; Claude Code's Write). */
function viaShell(command: (i: Input) => string | undefined): Target[] {
  return shellTargets().map((t) => ({
    ...t,
    map: (i, tool) => {
      const c = command(i);
      return c === undefined ? undefined : t.map({ command: c }, tool);
    },
  }));
}

function renamed(name: string, keys: Record<string, string>): Target {
  return {
    name,
    map: (i) => {
      const out: Input = {};
      for (const [k, v] of Object.entries(i)) out[keys[k] ?? k] = v;
      return Object.values(keys).every((k) => k in out) ? fn(name, out) : undefined;
    },
  };
}

/** The whole file into $c with builtins only (`read` returns 1 at end of file, so it is not chained with &&). */
const slurp = (path: string) => `IFS= read -r -d '' c < ${quote(path)}`;

/** Replace the first occurrence of oldText, literally (quoted pattern and replacement: no globbing, no `&`). */
function shellEdit(path: string, oldText: string, newText: string): string {
  const missing = quote(`edit: the text to replace is not in ${path}`);
  return `${slurp(path)}; OLD=${quote(oldText)}; NEW=${quote(newText)}; [[ $c == *"$OLD"* ]] || { printf '%s\\n' ${missing} >&2; exit 1; }; printf '%s' "\${c/"$OLD"/"$NEW"}" > ${quote(path)}`;
}

const TARGETS: Record<string, Target[]> = {
  bash: shellTargets(),
  read: [
    renamed("read", { path: "filePath" }),
    renamed("Read", { path: "file_path" }),
    ...viaShell((i) => (str(i.path) === undefined ? undefined : `${slurp(str(i.path)!)}; printf '%s' "$c"`)),
  ],
  write: [
    renamed("write", { path: "filePath", content: "content" }),
    renamed("Write", { path: "file_path", content: "content" }),
    ...viaShell((i) => (str(i.path) === undefined || str(i.content) === undefined ? undefined : `printf '%s' ${quote(str(i.content)!)} > ${quote(str(i.path)!)}`)),
  ],
  edit: [
    renamed("edit", { path: "filePath", oldText: "oldString", newText: "newString" }),
    renamed("Edit", { path: "file_path", oldText: "old_string", newText: "new_string" }),
    ...viaShell((i) => {
      const [path, oldText, newText] = [str(i.path), str(i.oldText), str(i.newText)];
      return path === undefined || oldText === undefined || newText === undefined ? undefined : shellEdit(path, oldText, newText);
    }),
  ],
};

const fits = (tool: OfferedTool, input: Input) => tool.required.every((k) => k in input);

/** The call to send for a script step `{tool: name, input}`, given the tools the request offered. */
export function mapToolCall(name: string, input: Input, offered: readonly OfferedTool[]): ToolCall {
  const exact = offered.find((t) => t.name === name && t.kind === "function");
  if (exact && fits(exact, input)) return { name, input, format: "function" };
  if (offered.some((t) => t.name === name && t.kind === "custom") && typeof input.input === "string") return { name, input, format: "custom" };
  for (const target of TARGETS[name] ?? []) {
    const tool = offered.find((t) => t.name === target.name && t.kind === (target.kind ?? "function"));
    const call = tool && target.map(input, tool);
    if (call) return call;
  }
  return { name, input, format: "function" };
}
