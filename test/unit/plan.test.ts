import { afterAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compileSandbox, explainPolicy, hostAddresses, parsePermissionFlags, renderExplanation } from "../../src/caps/index.ts";
import { planVm, vmPermissions, workspaceLimits } from "../../src/plan/index.ts";
import { writeAllowanceBytes } from "../../src/runtime/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);
async function workspace(): Promise<string> {
  const d = await tempDir("aos-plan-");
  await writeFile(join(d, "big.bin"), new Uint8Array(300_000));
  return d;
}
const hostFunctions = { paperclip: {} } as never;
const spawnsToolStub = (p: unknown) => JSON.stringify((p as { childProcess: unknown }).childProcess).includes("agentos-paperclip");

describe("the VM plan", () => {
  test("a policy that writes nothing in /workspace gets a read-only workspace mount; workspace-write a writable one", async () => {
    const dir = await workspace();
    const ro = await planVm({ sandbox: await compileSandbox({ preset: "read-only", workspaceHostDir: dir }), workspaceDir: dir });
    expect(ro.boot.workspaceDir).toBe(dir);
    expect(ro.boot.workspaceReadOnly).toBe(true);
    const rw = await planVm({ sandbox: await compileSandbox({ workspaceHostDir: dir }), workspaceDir: dir });
    expect(rw.boot.workspaceReadOnly).toBe(false);
  });

  test("the filesystem quota is the workspace's size plus the write allowance", async () => {
    const dir = await workspace();
    const p = await planVm({ sandbox: await compileSandbox({ workspaceHostDir: dir }), workspaceDir: dir });
    const quota = p.boot.limits!.resources!.maxFilesystemBytes!;
    expect(quota).toBeGreaterThanOrEqual(300_000 + writeAllowanceBytes());
    expect(quota).toBeLessThan(400_000 + writeAllowanceBytes());
    // A worker that may hand the run a spare (its own quota) walks the workspace only if it boots a VM after all.
    const later = await planVm({ sandbox: await compileSandbox({ workspaceHostDir: dir }), workspaceDir: dir, sizeWorkspace: false });
    expect(later.boot.limits).toBeUndefined();
    expect(later.boot.workspaceDir).toBe(dir);
    expect(await workspaceLimits(dir)).toEqual(p.boot.limits!);
  });

  test("bound host tools add their permissions; without tools the policy's permissions are the VM's", async () => {
    const dir = await workspace();
    const sandbox = await compileSandbox({ workspaceHostDir: dir });
    expect(spawnsToolStub((await planVm({ sandbox, workspaceDir: dir, hostFunctions })).boot.permissions)).toBe(true);
    expect((await planVm({ sandbox, workspaceDir: dir })).boot.permissions).toEqual(sandbox.permissions);
  });

  test("caps explain, given the plan's vmPermissions, shows exactly the permissions the VM boots with", async () => {
    const dir = await workspace();
    // --allow-net: the host-address denies (this host's, as compileSandbox and caps explain both read them) are shown too.
    const flags = parsePermissionFlags(["--allow-net", "--allow-tool=git.status"]);
    const sandbox = await compileSandbox({ flags, workspaceHostDir: dir, hostEnv: {} });
    const booted = (await planVm({ sandbox, workspaceDir: dir, hostFunctions })).boot.permissions;
    const shown = explainPolicy(sandbox.policy, { hostAddresses: hostAddresses(), workspaceHostDir: dir, hostEnv: {} }, { vmPermissions: (p) => vmPermissions(p, { hostTools: true }) });
    expect(shown.data.compiled.permissions).toEqual(booted as never);
    // The compiled rules are shown with --rules (renderExplanation's `rules`).
    expect(renderExplanation(shown.data, { rules: true })).toContain("agentos-paperclip");
  });

  test("the guest env is the policy's env.read names, then the request's env, and HOME last", async () => {
    const dir = await workspace();
    const sandbox = await compileSandbox({ flags: parsePermissionFlags(["--allow-env=AOS_PLAN_X"]), workspaceHostDir: dir, hostEnv: { AOS_PLAN_X: "1", OTHER: "2" } });
    const p = await planVm({ sandbox, workspaceDir: dir, env: { EXTRA: "3", HOME: "/elsewhere" } });
    expect(p.guestEnv).toEqual({ AOS_PLAN_X: "1", EXTRA: "3", HOME: "/home/agentos" });
  });

  test("a snapshot run mounts the snapshot's tree with its own quota and no host directory", async () => {
    const sandbox = await compileSandbox({ preset: "read-only" });
    const snapshot = { mounts: [{ path: "/workspace" }] as never, limits: { resources: { maxFilesystemBytes: 123 } } };
    const p = await planVm({ sandbox, snapshot });
    expect(p.boot.workspaceDir).toBeUndefined();
    expect(p.boot.mounts).toBe(snapshot.mounts);
    expect(p.boot.limits).toBe(snapshot.limits);
  });
});
