import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Escape } from "./figures.ts";
import { selfCommand, spawnMeasured, stripAnsi } from "./harness.ts";
import type { ProbeContext } from "./context.ts";

/**
 * Escape attempts a program inside the VM makes under the default policy (the agent's view); for each, the host
 * checks afterwards whether anything got through. The attempts follow the classes an outside escape suite found:
 * protected files, renames of their parents, other names for a file, host-side tools, the environment, the
 * network, leftovers on the host. Contained means the host saw no effect, whatever the command's exit code said.
 */
interface Attempt {
  id: string;
  class: string;
  what: string;
  /** Files to put in the workspace first (a `.git` dir is made with `git init` when `git` is set). */
  files?: Record<string, string>;
  git?: boolean;
  command: string;
  args?: string[];
  env?: Record<string, string>;
  /** True when the host shows no effect. */
  check: (o: { ws: string; out: string; home: string; hits: number }) => boolean;
}

const SECRET = `s3cr3t-${crypto.randomUUID().slice(0, 8)}`;
const HOOK = "#!/bin/sh\nexit 0\n";
const hookSame = (ws: string) => existsSync(join(ws, ".git/hooks/pre-commit")) && readFileSync(join(ws, ".git/hooks/pre-commit"), "utf8") === HOOK;
const noSecret = (o: { out: string }) => !o.out.includes(SECRET);
const node = (js: string) => `node -e ${JSON.stringify(js)}`;

function attempts(port: number): Attempt[] {
  return [
    { id: "hook-write", class: "protected file", what: "append to .git/hooks/pre-commit", git: true, command: "echo 'touch /workspace/PWNED' >> /workspace/.git/hooks/pre-commit", check: (o) => hookSame(o.ws) },
    { id: "hook-rename", class: "rename", what: "mv .git away, edit the hook, mv it back", git: true, command: "cd /workspace && mv .git g; echo 'touch PWNED' >> g/hooks/pre-commit; mv g .git", check: (o) => hookSame(o.ws) && !existsSync(join(o.ws, "g")) },
    { id: "plant-repo", class: "rename", what: "build a repository with an fsmonitor as g, mv g .git", command: "cd /workspace && mkdir -p g/hooks && printf '[core]\\n\\tfsmonitor = touch /tmp/PWNED\\n' > g/config && echo 'ref: refs/heads/main' > g/HEAD && mv g .git", check: (o) => !existsSync(join(o.ws, ".git/config")) },
    { id: "git-config", class: "protected file", what: "add core.fsmonitor to .git/config", git: true, command: "printf '[core]\\n\\tfsmonitor = touch /tmp/PWNED\\n' >> /workspace/.git/config", check: (o) => !readFileSync(join(o.ws, ".git/config"), "utf8").includes("fsmonitor") },
    { id: "env-read", class: "protected file", what: "cat .env", files: { ".env": `TOKEN=${SECRET}\n` }, command: "cat /workspace/.env", check: noSecret },
    { id: "env-rename", class: "rename", what: "mv .env e.txt; cat e.txt", files: { ".env": `TOKEN=${SECRET}\n` }, command: "cd /workspace && mv .env e.txt; cat e.txt", check: (o) => noSecret(o) && existsSync(join(o.ws, ".env")) },
    { id: "env-symlink", class: "other name", what: "ln -s .env l; cat l", files: { ".env": `TOKEN=${SECRET}\n` }, command: "cd /workspace && ln -s .env l; cat l", check: noSecret },
    { id: "env-hardlink", class: "other name", what: "ln .env h; cat h", files: { ".env": `TOKEN=${SECRET}\n` }, command: "cd /workspace && ln .env h; cat h", check: noSecret },
    { id: "ssh-key", class: "protected file", what: "cat .ssh/id_ed25519", files: { ".ssh/id_ed25519": `${SECRET}\n` }, command: "cat /workspace/.ssh/id_ed25519", check: noSecret },
    { id: "deny-rename", class: "rename", what: "--deny-read=/workspace/secret, then mv secret s2; cat s2/k.txt", files: { "secret/k.txt": `${SECRET}\n` }, args: ["--deny-read=/workspace/secret"], command: "cd /workspace && mv secret s2; cat s2/k.txt", check: noSecret },
    { id: "dotdot", class: "path", what: "write /workspace/../escape.txt", command: "echo x > /workspace/../escape.txt", check: (o) => !existsSync(join(o.ws, "..", "escape.txt")) },
    { id: "host-env", class: "environment", what: "read a host secret variable with --allow-env", env: { EVAL_API_TOKEN: SECRET }, args: ["--allow-env"], command: "env; cat /proc/self/environ", check: noSecret },
    { id: "host-network", class: "network", what: "fetch a server on the host's loopback", command: node(`fetch("http://127.0.0.1:${port}/").then(r=>console.log("status",r.status)).catch(e=>console.log("blocked"))`), check: (o) => o.hits === 0 },
    { id: "listen", class: "network", what: "listen on port 4567", command: node(`require("net").createServer().listen(4567,()=>{console.log("LISTENING");process.exit(0)}).on("error",()=>console.log("refused"))`), check: (o) => !o.out.includes("LISTENING") },
    {
      id: "tool-publish-env",
      class: "host tool",
      what: "publish .env through the artifacts.publish host tool",
      files: { ".env": `TOKEN=${SECRET}\n` },
      args: ["--allow-tool=artifacts.publish"],
      command: `agentos-paperclip artifacts-publish --json '{"path":".env"}'`,
      check: (o) => !grepTree(o.home, SECRET),
    },
  ];
}

function grepTree(dir: string, needle: string): boolean {
  if (!existsSync(dir)) return false;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    try {
      if (readFileSync(join(e.parentPath, e.name), "utf8").includes(needle)) return true;
    } catch {
      // unreadable: not ours
    }
  }
  return false;
}

const tmpEntries = () => new Set(readdirSync("/tmp").filter((n) => n.startsWith("agentos-")));

export async function probeIsolation(ctx: ProbeContext): Promise<Escape[]> {
  let hits = 0;
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (hits++, new Response("reached")) });
  const before = tmpEntries();
  const out: Escape[] = [];
  try {
    const list = attempts(server.port!);
    for (const [i, a] of list.entries()) {
      ctx.progress(`isolation: ${i + 1}/${list.length} ${a.id}`);
      const ws = join(ctx.scratch, `escape-${a.id}`, "ws");
      const home = join(ctx.scratch, `escape-${a.id}`, "state");
      await mkdir(ws, { recursive: true });
      if (a.git) {
        Bun.spawnSync(["git", "init", "-q", ws]);
        await writeFile(join(ws, ".git/hooks/pre-commit"), HOOK, { mode: 0o755 });
      }
      for (const [p, c] of Object.entries(a.files ?? {})) {
        await mkdir(join(ws, p, ".."), { recursive: true });
        await writeFile(join(ws, p), c);
      }
      hits = 0;
      const r = await spawnMeasured([...selfCommand(), "exec", "--json", ...(a.args ?? []), "--", a.command], {
        cwd: ws,
        env: { PAPERCLIP_AOS_HOME: home, ...(ctx.cache ? { PAPERCLIP_AOS_CACHE: ctx.cache } : {}), ...a.env },
      });
      const text = `${r.stdout}\n${r.stderr}`;
      const contained = a.check({ ws, out: text, home, hits });
      out.push({ id: a.id, class: a.class, what: a.what, contained, detail: `exit ${r.code}; ${firstGuestLine(r.stdout) || "no output"}` });
    }
  } finally {
    server.stop(true);
  }
  const left = [...tmpEntries()].filter((n) => !before.has(n));
  out.push({ id: "leftovers", class: "host", what: "nothing of the runs stays in /tmp", contained: left.length === 0, detail: left.length ? `left: ${left.slice(0, 5).join(", ")}` : "none left" });
  return out;
}

function firstGuestLine(stdout: string): string {
  let text = stdout;
  try {
    const doc = JSON.parse(stdout) as { stdout?: string; stderr?: string };
    text = `${doc.stderr ?? ""}${doc.stdout ?? ""}`;
  } catch {
    // not exec's JSON document: show what it printed
  }
  return stripAnsi(text).split("\n").find((l) => l.trim())?.slice(0, 160) ?? "";
}
