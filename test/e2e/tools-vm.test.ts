import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseJson, runBin, tempDir, removeTempDirs } from "./helpers.ts";
import { gitFixture, type Fixture } from "./tools-fixture.ts";
import { bootVm, GUEST_WORKSPACE } from "../../src/runtime/index.ts";
import { findDenials } from "../../src/heartbeat/index.ts";
import {
  allowListGate,
  builtinRegistry,
  createHostTools,
  invokeTool,
  withHostToolPermissions,
  type ToolCallRecord,
  type ToolDenial,
} from "../../src/tools/index.ts";

afterAll(removeTempDirs);

let fx: Fixture;
beforeAll(async () => {
  fx = await gitFixture();
});

/** One exec through the compiled binary; the guest's stdout and stderr come back in exec's --json document. */
async function execInGuest(script: string, flags: string[] = []) {
  const r = await runBin(["exec", "--json", ...flags, "--", script], { cwd: fx.dir, env: { PAPERCLIP_AOS_HOME: fx.home } });
  if (r.code !== 0 && r.stdout === "") throw new Error(`exec failed (${r.code}): ${r.stderr}`);
  return parseJson<{ exitCode: number; stdout: string; stderr: string }>(r.stdout);
}

async function onHost(name: string, input: unknown) {
  const r = await runBin(["tool", "invoke", name, "--input", JSON.stringify(input)], { cwd: fx.dir, env: { PAPERCLIP_AOS_HOME: fx.home } });
  expect(r.code).toBe(0);
  return parseJson(r.stdout);
}

describe("tools inside the VM through exec (compiled binary)", () => {
  test("git.status, git.log and workspace.diff give the agent exactly what the host CLI gets", async () => {
    const calls: [string, object][] = [
      ["git.status", {}],
      ["git.log", { limit: 2 }],
      ["workspace.diff", { maxBytes: 4000 }],
    ];
    const script = calls.map(([n, i]) => `agentos-paperclip ${n.replace(".", "-")} --json '${JSON.stringify(i)}'; echo; echo =====`).join("; ");
    const r = await execInGuest(script);
    expect(r.exitCode).toBe(0);
    const outs = r.stdout.split("=====\n").map((s) => s.trim()).filter(Boolean);
    expect(outs).toHaveLength(3);
    for (const [k, [name, input]] of calls.entries()) {
      const guest = JSON.parse(outs[k]!);
      expect(guest.ok).toBe(true);
      expect(guest.result).toEqual(await onHost(name, input));
    }
  }, 120_000);

  test("flags work as well as --json (agentOS builds them from the schema)", async () => {
    const r = await execInGuest("agentos-paperclip git-log --limit 1");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).result.commits.map((c: { subject: string }) => c.subject)).toEqual([fx.subjects[0]]);
  }, 120_000);

  test("a tool the policy denies fails with a permission error and never runs on the host", async () => {
    const r = await execInGuest(`agentos-paperclip artifacts-publish --json '{"path":"a.txt"}'`, ["--deny-tool=artifacts.publish"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("blocked by hostFunction.invoke policy for paperclip:artifacts-publish");
    // What `run` turns into a permission event (the kernel tells the host nothing).
    expect(findDenials(r.stderr).map((d) => [d.capability, d.target])).toEqual([["tool.invoke", "artifacts.publish"]]);
    expect(existsSync(join(fx.home, "artifacts"))).toBe(false);
    // The same policy still lets the other tools through.
    const allowed = await execInGuest(`agentos-paperclip git-log --json '{"limit":1}'`, ["--deny-tool=artifacts.publish"]);
    expect(allowed.exitCode).toBe(0);
  }, 120_000);

  test("invalid input and path escapes are refused with the field named, before anything happens", async () => {
    const r = await execInGuest(
      `agentos-paperclip git-log --json '{"limit":0}'; echo rc=$?; agentos-paperclip artifacts-publish --json '{"path":"../../etc/passwd"}'; echo rc=$?`,
    );
    expect(r.stdout).toBe("rc=1\nrc=1\n");
    expect(r.stderr).toContain("invalid_input: invalid input for git.log at 'limit'");
    expect(r.stderr).toContain("invalid_input: path '../../etc/passwd' climbs out of the workspace");
    expect(existsSync(join(fx.home, "artifacts")) ? await readdir(join(fx.home, "artifacts")) : []).toEqual([]);
  }, 120_000);

  test("the listen rule preview.status needs (tcp://127.0.0.1:0) lets the agent listen nowhere", async () => {
    const ws = await tempDir("aos-tools-listen-");
    await writeFile(
      join(ws, "listen.mjs"),
      `import net from "node:net";
       const s = net.createServer().on("error", (e) => console.log("refused", e.code));
       s.listen(0, "127.0.0.1", () => { console.log("listening", s.address().port); s.close(); });`,
    );
    // The default policy allows no listening; exec adds the tools' rules on top of it.
    const r = await runBin(["exec", "--json", "--", "node /workspace/listen.mjs"], { cwd: ws });
    expect(parseJson(r.stdout)).toMatchObject({ exitCode: 0, stdout: "refused EACCES\n" });
  }, 120_000);
});

describe("tools inside the VM with the runtime's hooks (services, previews, host-side gate)", () => {
  test("services.list and preview.status see a server the agent started in the VM; every call is reported", async () => {
    const calls: ToolCallRecord[] = [];
    const denials: ToolDenial[] = [];
    const registry = builtinRegistry();
    const tools = await createHostTools({
      registry,
      workspaceDir: fx.dir,
      stateDir: fx.home,
      runId: "vm-run-1",
      // The host half denies artifacts.publish while the kernel half below allows every tool: the host check alone must hold.
      decide: allowListGate(["*"], ["artifacts.publish"]),
      onCall: (c) => calls.push(c),
      onDenied: (d) => denials.push(d),
      listenPorts: [4173],
      baseline: true,
    });
    expect(tools.baseline).toMatchObject({ runId: "vm-run-1", workspaceDir: tools.ctx.workspaceDir });
    const permissions: Record<string, unknown> = withHostToolPermissions({ hostFunction: "allow", network: "deny", childProcess: "allow" });
    const network = permissions.network as { default: "deny"; rules: object[] };
    network.rules.unshift({ mode: "allow", operations: ["listen", "http"], patterns: ["tcp://127.0.0.1:4173", "tcp://0.0.0.0:4173", "tcp://*:4173"] });
    const handle = await bootVm({ workspaceDir: fx.dir, hostFunctions: tools.hostFunctions, permissions: permissions as never });
    try {
      tools.attachVm(handle.vm);
      const vm = handle.vm;
      expect(await tools.services()).toEqual([]);
      await vm.filesystem.writeFile(
        "/tmp/server.mjs",
        `import http from "node:http";
         http.createServer((q, s) => { s.setHeader("content-type", "text/html"); s.end("<title>Guest preview</title>"); }).listen(4173);`,
      );
      await vm.process.spawn("node", ["/tmp/server.mjs"], { cwd: GUEST_WORKSPACE });
      let services = await tools.services();
      for (let i = 0; i < 50 && services.length === 0; i++) {
        await Bun.sleep(100);
        services = await tools.services();
      }
      expect(services).toMatchObject([{ protocol: "tcp", port: 4173, process: { command: "node" } }]);

      const run = (cmd: string) => vm.process.exec(cmd, { cwd: GUEST_WORKSPACE, output: { capture: "all" } });
      const listed = await run("agentos-paperclip services-list --json '{}'");
      expect(JSON.parse(listed.stdout ?? "").result).toMatchObject({ live: true, services: [{ port: 4173, url: "http://127.0.0.1:4173/" }] });
      const preview = await run("agentos-paperclip preview-status --port 4173");
      expect(JSON.parse(preview.stdout ?? "").result).toMatchObject({ answering: true, status: 200, title: "Guest preview", via: "vm" });
      // A port the policy does not let the agent listen on: refused, not probed.
      const other = await run("agentos-paperclip preview-status --port 22");
      expect(other.exitCode).toBe(1);
      expect(other.stderr).toContain("port_not_allowed");

      const denied = await run(`agentos-paperclip artifacts-publish --json '{"path":"a.txt"}'`);
      expect(denied.exitCode).toBe(1);
      expect(denied.stderr).toContain("permission_denied: artifacts.publish is not allowed by the policy (tool.invoke deny artifacts.publish)");
      expect(denials).toEqual([{ capability: "tool.invoke", tool: "artifacts.publish", target: "artifacts.publish", resource: "paperclip:artifacts-publish", reason: "tool.invoke deny artifacts.publish", by: "host" }]);
      expect(existsSync(join(fx.home, "runs", "vm-run-1", "artifacts"))).toBe(false);

      // What the agent changes in the VM shows up against the run-start baseline.
      await run("echo 'from the agent' > agent-note.txt");
      const diff = await run(`agentos-paperclip workspace-diff --json '{"paths":["agent-note.txt"]}'`);
      expect(JSON.parse(diff.stdout ?? "").result).toMatchObject({
        baseline: { kind: "run", runId: "vm-run-1" },
        files: [{ path: "agent-note.txt", status: "added", additions: 1 }],
      });

      expect(calls.map((c) => [c.name, c.via, c.error?.code ?? "ok"])).toEqual([
        ["services.list", "vm", "ok"],
        ["preview.status", "vm", "ok"],
        ["preview.status", "vm", "port_not_allowed"],
        ["artifacts.publish", "vm", "permission_denied"],
        ["workspace.diff", "vm", "ok"],
      ]);
      expect(calls[1]!.input).toEqual({ port: 4173 });

      // The host CLI path never reaches into the VM: without the runtime's hooks it has no VM to ask.
      expect(await invokeTool(registry, "services.list", {}, { ...tools.ctx, vm: undefined })).toEqual({ live: false, services: [] });
    } finally {
      await handle.close();
    }
  }, 120_000);
});
