/**
 * VMs on one sidecar (as the warm worker and a Rivet runner keep them), through the library: agentOS 0.2.21 answers
 * every VM's filesystem calls with the handler of the VM created last, so without src/runtime/sidecar-router.ts the
 * first VM here reads and writes the second's workspace. Also the runtime workspace mount (`mountWorkspace`) that a
 * VM booted ahead of its request (a spare) gets: routed and checked the same way. Through the compiled binary the
 * same is proved in test/e2e/worker.test.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentOs } from "@rivet-dev/agentos-core";
import { bootVm, childPids, MemoryDirVfs, tempRoot, vmReleased, type VmHandle } from "../../src/runtime/index.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

async function sh(vm: AgentOs, line: string): Promise<string> {
  const out: Uint8Array[] = [];
  const p = await vm.process.spawn("sh", ["-c", line], { cwd: "/", onStdout: (c) => out.push(c), onStderr: (c) => out.push(c) });
  const r = await vm.process.wait(p.pid);
  return `${r.exitCode}:${Buffer.concat(out).toString().trim()}`;
}

describe("VMs sharing one sidecar", () => {
  test("each VM's shell and node see and write only its own workspace, boot-time or mounted at run time (read-only too)", async () => {
    const { AgentOs } = await import("@rivet-dev/agentos-core");
    const dirs = await Promise.all(["a", "b", "c", "d"].map((n) => tempDir(`aos-shared-${n}-`)));
    dirs.forEach((d, i) => writeFileSync(join(d, "id.txt"), "abcd"[i]!));
    const before = childPids();
    const sidecar = await AgentOs.createSidecar();
    const handles: VmHandle[] = [];
    try {
      handles.push(await bootVm({ sidecar, workspaceDir: dirs[0] }));
      handles.push(await bootVm({ sidecar, workspaceDir: dirs[1] }));
      // Booted without a workspace (a spare), mounted read-only after the others exist.
      const c = await bootVm({ sidecar });
      handles.push(c);
      expect(await sh(c.vm, "ls /workspace")).toBe("0:");
      await c.mountWorkspace(dirs[2]!, { readOnly: true });
      const seen = await Promise.all(handles.map((h) => sh(h.vm, "cat /workspace/id.txt")));
      expect(seen).toEqual(["0:a", "0:b", "0:c"]);
      const write = (i: number) => `echo shell-${i} > /workspace/w.txt; node -e "require('fs').writeFileSync('/workspace/n.txt','node-${i}')"`;
      const wrote = await Promise.all(handles.map((h, i) => sh(h.vm, write(i))));
      expect(wrote.slice(0, 2)).toEqual(["0:", "0:"]);
      expect(wrote[2]).toContain("EROFS");
      for (const i of [0, 1]) {
        expect(readFileSync(join(dirs[i]!, "w.txt"), "utf8")).toBe(`shell-${i}\n`);
        expect(readFileSync(join(dirs[i]!, "n.txt"), "utf8")).toBe(`node-${i}`);
      }
      expect(existsSync(join(dirs[2]!, "w.txt")) || existsSync(join(dirs[2]!, "n.txt"))).toBe(false);

      // A spare's way: a writable workspace mount whose stand-in refuses every write, then rebound to the run's
      // directory (no sidecar round trip) with the mount's own flag; and its run file, set from here, read-only.
      const d = await bootVm({ sidecar });
      handles.push(d);
      await d.mountWorkspace(undefined, { readOnly: false });
      const runDir = "/home/agentos/.paperclip";
      const files = new MemoryDirVfs(runDir);
      await d.mountFiles(runDir, files);
      expect(await sh(d.vm, "ls -A /workspace")).toBe("0:");
      expect(await sh(d.vm, "echo early > /workspace/early.txt")).not.toMatch(/^0:/);
      expect(await sh(d.vm, `cat ${runDir}/run.json`)).not.toMatch(/^0:/);
      d.rebindWorkspace(dirs[3]!);
      files.set("run.json", "run-1");
      expect(await sh(d.vm, `cat /workspace/id.txt; echo shell-d > /workspace/w.txt; cat ${runDir}/run.json`)).toBe("0:drun-1");
      expect(readFileSync(join(dirs[3]!, "w.txt"), "utf8")).toBe("shell-d\n");
      expect(existsSync(join(dirs[3]!, "early.txt"))).toBe(false);
      files.set("run.json", "run-2");
      const tamper = `echo evil > ${runDir}/run.json; node -e "require('fs').writeFileSync('${runDir}/run.json','evil')"; cat ${runDir}/run.json`;
      expect(await sh(d.vm, tamper)).toContain("EROFS");
      expect(await sh(d.vm, `cat ${runDir}/run.json`)).toBe("0:run-2");
      // Rebound again, the read-only mount of VM c stays read-only: the flag is the mount's, not the directory's.
      c.rebindWorkspace(dirs[3]!);
      expect(await sh(c.vm, "cat /workspace/id.txt; echo x > /workspace/c.txt")).toMatch(/^[1-9]\d*:d/);
      expect(existsSync(join(dirs[3]!, "c.txt"))).toBe(false);
      // A closed VM's routing is gone; the others keep theirs.
      await handles.shift()!.close();
      expect(await sh(handles[0]!.vm, "cat /workspace/id.txt")).toBe("0:b");
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await Promise.race([sidecar.dispose(), Bun.sleep(1000)]);
      // The shared sidecar is ours to stop (bootVm stops only a sidecar it started).
      for (const pid of childPids().filter((p) => !before.includes(p))) process.kill(pid, "SIGKILL");
    }
  }, 180_000);

  test("the run file's directory (~/.paperclip, answered from memory) refuses every change the guest tries, by shell and node, and the file stays", async () => {
    const before = childPids();
    const h = await bootVm({});
    try {
      const runDir = "/home/agentos/.paperclip";
      const files = new MemoryDirVfs(runDir);
      await h.mountFiles(runDir, files);
      files.set("run.json", '{"run":"r-1"}');
      const home = "/home/agentos";
      // Each attempt on its own, its exit code printed: the file renamed (inside, out, over it from elsewhere), removed,
      // linked, replaced by a symlink, its mode changed, a directory or file made beside it, and the directory itself
      // renamed, removed or replaced (then a file of the agent's where the run file was).
      const shell = [
        `mv ${runDir}/run.json ${runDir}/old.json`,
        `mv ${runDir}/run.json /tmp/stolen.json`,
        `echo '{"run":"evil"}' > /tmp/evil.json && mv -f /tmp/evil.json ${runDir}/run.json`,
        `rm -f ${runDir}/run.json`,
        `ln ${runDir}/run.json ${runDir}/hard.json`,
        `ln -sf /tmp/evil.json ${runDir}/run.json`,
        `ln -s /tmp/evil.json ${runDir}/other.json`,
        `chmod 666 ${runDir}/run.json`,
        `mkdir ${runDir}/sub`,
        `touch ${runDir}/new.json`,
        `mv ${runDir} ${home}/pc-old && mkdir ${runDir} && echo '{"run":"evil"}' > ${runDir}/run.json`,
        `rm -rf ${runDir}`,
      ];
      const codes = await sh(h.vm, shell.map((c) => `(${c}) >/dev/null 2>&1; echo $?`).join("; "));
      const exits = codes.slice(2).split("\n");
      expect(exits).toHaveLength(shell.length);
      expect(shell.filter((_, i) => exits[i] === "0")).toEqual([]);
      const node = `
        const fs = require("fs");
        const d = ${JSON.stringify(runDir)}, f = d + "/run.json";
        fs.writeFileSync("/tmp/evil2.json", '{"run":"evil"}');
        const tries = {
          rename: () => fs.renameSync(f, d + "/old.json"),
          renameOut: () => fs.renameSync(f, "/tmp/out.json"),
          renameOver: () => fs.renameSync("/tmp/evil2.json", f),
          unlink: () => fs.unlinkSync(f),
          link: () => fs.linkSync(f, d + "/hard.json"),
          symlink: () => fs.symlinkSync("/tmp/evil2.json", d + "/other.json"),
          chmod: () => fs.chmodSync(f, 0o666),
          mkdir: () => fs.mkdirSync(d + "/sub"),
          create: () => fs.writeFileSync(d + "/new.json", "x"),
          append: () => fs.appendFileSync(f, "x"),
          truncate: () => fs.truncateSync(f, 0),
          renameDir: () => fs.renameSync(d, ${JSON.stringify(home)} + "/pc-node"),
          rmDir: () => fs.rmSync(d, { recursive: true, force: true }),
        };
        const out = {};
        for (const [k, t] of Object.entries(tries)) {
          try { t(); out[k] = "done"; } catch (e) { out[k] = e.code || String(e); }
        }
        console.log(JSON.stringify(out));`;
      const ran = await sh(h.vm, `node -e '${node.replaceAll("'", "'\\''")}'`);
      expect(ran).toMatch(/^0:/);
      const outcome = JSON.parse(ran.slice(2)) as Record<string, string>;
      expect(Object.keys(outcome)).toHaveLength(13);
      expect(Object.entries(outcome).filter(([, r]) => r === "done")).toEqual([]);
      // The run file is there, unchanged, alone in its directory; the host can still set it.
      expect(await sh(h.vm, `cat ${runDir}/run.json; echo; ls -A ${runDir}`)).toBe('0:{"run":"r-1"}\nrun.json');
      files.set("run.json", '{"run":"r-2"}');
      expect(await sh(h.vm, `cat ${runDir}/run.json`)).toBe('0:{"run":"r-2"}');
    } finally {
      await h.close();
      for (const pid of childPids().filter((p) => !before.includes(p))) process.kill(pid, "SIGKILL");
    }
  }, 180_000);

  test("a VM booted on a session database waits until the previous VM on it is really gone (close returned long before)", async () => {
    const { AgentOs } = await import("@rivet-dev/agentos-core");
    const db = join(await tempDir("aos-shared-db-"), "agentos.db");
    const before = childPids();
    const sidecar = await AgentOs.createSidecar();
    const handles: VmHandle[] = [];
    try {
      const a = await bootVm({ sidecar, agents: ["pi"], databasePath: db });
      handles.push(a);
      // An open Pi session makes the teardown slow (seconds), as after a heartbeat.
      await a.vm.sessions.open({ sessionId: "s", agent: "pi", cwd: "/" });
      await a.close({ graceMs: 0 });
      // close() is back and agentOS's dispose of the VM goes on: what a next heartbeat of the session used to meet.
      let gone = false;
      void vmReleased(db).then(() => (gone = true));
      await Bun.sleep(0);
      expect(gone).toBe(false);
      // A VM booted on the same database starts only once that dispose has ended.
      const b = await bootVm({ sidecar, databasePath: db });
      handles.push(b);
      expect(gone).toBe(true);
      expect(await sh(b.vm, "echo alive")).toBe("0:alive");
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await Promise.race([sidecar.dispose(), Bun.sleep(1000)]);
      for (const pid of childPids().filter((p) => !before.includes(p))) process.kill(pid, "SIGKILL");
    }
  }, 180_000);

  test("the first VM on a new shared sidecar boots without changing this process's environment; the sidecar still gets no secret, and our TMPDIR", async () => {
    const { AgentOs } = await import("@rivet-dev/agentos-core");
    // What a worker's other heartbeats read while a VM boots: the state dir, the temp dir, a key (one whose name is no
    // shell identifier too, which the wrapper must still withhold).
    const watched: Record<string, string> = {
      PAPERCLIP_AOS_HOME: await tempDir("aos-shared-home-"),
      TMPDIR: process.env.TMPDIR ?? "/tmp",
      AOS_PROBE_SECRET: "probe-secret-value-4711",
      "aos-probe.x_TOKEN": "probe-token-value-4712",
    };
    const saved = Object.fromEntries(Object.keys(watched).map((k) => [k, process.env[k]]));
    Object.assign(process.env, watched);
    const expected = JSON.stringify(Object.keys(watched).map((k) => process.env[k]));
    const before = childPids();
    const sidecar = await AgentOs.createSidecar();
    let handle: VmHandle | undefined;
    const seen = new Set<string>();
    let samples = 0;
    const poll = setInterval(() => {
      samples++;
      seen.add(JSON.stringify(Object.keys(watched).map((k) => process.env[k])));
    }, 1);
    try {
      handle = await bootVm({ sidecar });
      clearInterval(poll);
      // The boot gave the event loop up many times (as to a worker's other heartbeats), and each time it was all there.
      expect(samples).toBeGreaterThan(5);
      expect([...seen]).toEqual([expected]);
      expect(Object.keys(process.env).filter((k) => k.startsWith("PAPERCLIP_AOS_SIDECAR") || k === "PAPERCLIP_AOS_REAL_SIDECAR")).toEqual([]);
      expect(await sh(handle.vm, "echo alive")).toBe("0:alive");
      // The sidecar this boot spawned (the wrapper exec'd it: same pid) has the environment it always had.
      const spawned = childPids().filter((p) => !before.includes(p));
      expect(spawned.length).toBe(1);
      const raw = readFileSync(`/proc/${spawned[0]}/environ`, "latin1");
      const env = new Map(raw.split("\0").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
      for (const k of ["PAPERCLIP_AOS_HOME", "AOS_PROBE_SECRET", "aos-probe.x_TOKEN"]) expect(env.has(k)).toBe(false);
      for (const v of ["probe-secret-value-4711", "probe-token-value-4712"]) expect(raw.includes(v)).toBe(false);
      expect(env.get("TMPDIR")?.startsWith(`${tempRoot()}/`)).toBe(true);
      expect(env.get("AGENTOS_LOG_LEVEL")).toBe(process.env.AGENTOS_LOG_LEVEL ?? "error");
      expect(env.get("AGENTOS_V8_WARM_ISOLATES")).toBe(process.env.AGENTOS_V8_WARM_ISOLATES ?? "0");
      expect(env.get("PATH")).toBe(process.env.PATH);
      expect([...env.keys()].filter((k) => k.startsWith("PAPERCLIP_AOS_"))).toEqual(["PAPERCLIP_AOS_SIDECAR_WRAPPED"]);
    } finally {
      clearInterval(poll);
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await handle?.close();
      await Promise.race([sidecar.dispose(), Bun.sleep(1000)]);
      for (const pid of childPids().filter((p) => !before.includes(p))) process.kill(pid, "SIGKILL");
    }
  }, 180_000);
});
