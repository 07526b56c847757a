import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ToolOp } from "./figures.ts";
import { dirSizeMb, selfCommand, spawnMeasured, stripAnsi } from "./harness.ts";
import type { ProbeContext } from "./context.ts";

/**
 * Each typed host tool's operation, tried by the agent inside the VM without the tool under the default policy, and
 * through `tool invoke` on the host. An operation the agent cannot do in the VM is one a typed tool earns its keep on.
 */
interface Op {
  tool: string;
  inVm: string;
  input: unknown;
  /** The in-VM attempt only counts when the host sees its effect (an artifact must reach the host's store). */
  hostEffect?: (home: string) => boolean;
}

const OPS: Op[] = [
  { tool: "git.status", inVm: "cd /workspace && git status --porcelain", input: {} },
  { tool: "git.log", inVm: "cd /workspace && git log -1 --oneline", input: { limit: 1 } },
  { tool: "workspace.diff", inVm: "cd /workspace && git diff --stat", input: {} },
  { tool: "services.list", inVm: "ss -ltn || netstat -ltn", input: {} },
  { tool: "artifacts.publish", inVm: "mkdir -p /artifacts && cp /workspace/README.md /artifacts/", input: { path: "README.md" }, hostEffect: (home) => dirSizeMb(join(home, "artifacts")) > 0 },
  { tool: "preview.status", inVm: `node -e "fetch('http://127.0.0.1:3000/').then(()=>console.log('up')).catch(()=>console.log('down'))"`, input: { port: 3000 } },
];

function classify(code: number, text: string): ToolOp["inVmWithoutTool"] {
  if (/permission denied|EACCES|EPERM|not permitted/i.test(text)) return "needs-forbidden-capability";
  if (code === 0) return "works";
  return "fails";
}

export async function probeTools(ctx: ProbeContext): Promise<ToolOp[]> {
  const ws = join(ctx.scratch, "tools", "ws");
  const home = join(ctx.scratch, "tools", "state");
  await mkdir(ws, { recursive: true });
  await writeFile(join(ws, "README.md"), "# tools\n");
  const git = (...a: string[]) => Bun.spawnSync(["git", "-C", ws, ...a], { env: { ...process.env, GIT_AUTHOR_NAME: "eval", GIT_AUTHOR_EMAIL: "eval@localhost", GIT_COMMITTER_NAME: "eval", GIT_COMMITTER_EMAIL: "eval@localhost" } });
  git("init", "-q");
  git("add", ".");
  git("commit", "-qm", "init");
  const env = { PAPERCLIP_AOS_HOME: home, ...(ctx.cache ? { PAPERCLIP_AOS_CACHE: ctx.cache } : {}) };
  const out: ToolOp[] = [];
  for (const op of OPS) {
    ctx.progress(`tools: ${op.tool} in the VM without the tool, then through the tool`);
    const vm = await spawnMeasured([...selfCommand(), "exec", "--json", "--", op.inVm], { cwd: ws, env });
    let guest = { exitCode: vm.code, stdout: "", stderr: vm.stderr };
    try {
      guest = { ...guest, ...(JSON.parse(vm.stdout) as typeof guest) };
    } catch {
      // exec itself failed: its stderr says why
    }
    const text = stripAnsi(`${guest.stdout}\n${guest.stderr}`);
    let verdict = classify(guest.exitCode, text);
    let detail = text.trim().split("\n").find((l) => l.trim()) ?? `exit ${guest.exitCode}`;
    if (verdict === "works" && op.hostEffect && !op.hostEffect(home)) {
      verdict = "fails";
      detail = "it only wrote inside the VM: the host never sees it";
    }
    const tool = await spawnMeasured([...selfCommand(), "tool", "invoke", op.tool, "--input", JSON.stringify(op.input), "--cwd", ws], { env });
    out.push({ tool: op.tool, inVmWithoutTool: verdict, inVmDetail: detail.slice(0, 200), toolWorks: tool.code === 0, invokeMs: tool.wallMs });
  }
  return out;
}
