import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile, writeFile, readdir, stat, appendFile } from "node:fs/promises";
import { join } from "node:path";
import { bootVm, PI_BUNDLE_PATCH_ID } from "../../src/runtime/index.ts";
import { parseJson, privateCache, processesMentioning, runBin, sharedCache, tempDir, removeTempDirs } from "./helpers.ts";

afterAll(removeTempDirs);

describe("compiled binary, from an empty directory", () => {
  test("--help lists the commands and examples", async () => {
    const r = await runBin(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("exec");
    expect(r.stdout).toContain("doctor");
    expect(r.stdout).toContain("EXAMPLES");
  });

  test("an unknown command or flag is exit 2 with a suggestion and no stack trace", async () => {
    const cmd = await runBin(["exce"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toBe("error: unknown command 'exce' for paperclip-aos\nhint: did you mean 'exec'?\n");
    const flag = await runBin(["version", "--jsno"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("did you mean '--json'?");
    expect(flag.stderr).not.toContain("    at ");
  });

  test("with --json an error is also one JSON document on stdout, for scripts", async () => {
    const r = await runBin(["exec", "--json", "--cwd", "/nonexistent-dir", "--", "true"]);
    expect(r.code).toBe(2);
    expect(parseJson(r.stdout)).toEqual({ error: { code: "cwd_missing", message: "workspace directory /nonexistent-dir does not exist", hint: "pass an existing directory with --cwd" } });
    expect(r.stderr).toContain("error: workspace directory /nonexistent-dir does not exist");
  });

  test("version --json names the tool, agentOS core, Bun and the build commit", async () => {
    const r = await runBin(["version", "--json"]);
    expect(r.code).toBe(0);
    const v = parseJson(r.stdout);
    expect(v.compiled).toBe(true);
    expect(v.agentosCore).toBe("0.2.21");
    expect(v.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(v.commit).not.toBe("unknown");
    expect(v.bun).toBe(Bun.version);
  });

  test("doctor --json passes with a real VM boot and reports timings", async () => {
    // Generous: doctor hashes every extracted asset and sweeps stale temp dirs, slow on a loaded machine.
    const r = await runBin(["doctor", "--json"], { timeoutMs: 300_000 });
    expect(r.code).toBe(0);
    const report = parseJson(r.stdout);
    expect(report.status).not.toBe("fail");
    const codes = report.checks.map((c: { code: string }) => c.code);
    for (const code of ["runtime_assets", "asset_integrity", "sidecar_start", "vm_exec", "software_pi", "software_opencode", "software_common", "cache_dir", "state_dir", "free_disk", "temp_dirs", "limit_guest_env_paths", "limit_child_spin", "limit_node_entry", "limit_nested_shell"]) {
      expect(codes).toContain(code);
    }
    // Claude Code's Bash results carry its commands' stderr (src/agents/claude.ts): no longer a limit.
    expect(codes).not.toContain("limit_claude_bash_stderr");
    // The compiled binary runs the sidecar it embeds, with our fixes of agentOS named (src/runtime/sidecar-patch.ts).
    const assets = report.checks.find((c: { code: string }) => c.code === "runtime_assets");
    expect(assets.message).toContain("embedded");
    expect(assets.message).toContain("wasm-runner-enforce-memory-limit");
    expect(assets.message).toContain("wasm-runner-kernel-wait-slice");
    // And the Pi package it embeds is the patched one (src/runtime/pi-bundle-patch.ts); a run from source says it is not.
    expect(report.checks.find((c: { code: string }) => c.code === "software_pi").message).toContain(`its SDK bundle patched to one byte per character (${PI_BUNDLE_PATCH_ID})`);
    expect(report.timings.bootMs).toBeGreaterThan(0);
    expect(report.timings.firstExecMs).toBeGreaterThan(0);
  }, 320_000);
});

describe("exec", () => {
  test("passes stdout, stderr and the exit code through", async () => {
    const r = await runBin(["exec", "--", "echo out-line; echo err-line >&2; exit 7"]);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe("out-line\n");
    expect(r.stderr).toContain("err-line\n");
    // The runtime's own log lines stay out of the user's stderr.
    expect(r.stderr).not.toContain("agentos-v8-runtime");
    expect(r.stderr).not.toContain("level=");
  });

  test("a file written in /workspace lands in the host dir; one in /tmp does not survive the VM", async () => {
    const dir = await tempDir();
    const first = await runBin(["exec", "--", "echo made-in-vm > /workspace/out.txt && echo t > /tmp/scratch && ls /tmp/scratch"], { cwd: dir });
    expect(first.code).toBe(0);
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("made-in-vm\n");
    const second = await runBin(["exec", "--", "test -e /tmp/scratch && echo still-there || echo gone"], { cwd: dir });
    expect(second.stdout).toBe("gone\n");
  });

  test("a workspace larger than agentOS's default filesystem quota can still be written", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "big.bin"), new Uint8Array(100 * 2 ** 20));
    const r = await runBin(["exec", "--", "echo small > /workspace/small.txt && cat /workspace/small.txt"], { cwd: dir });
    expect(r.stderr).not.toContain("Bad address");
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "small.txt"), "utf8")).toBe("small\n");
  });

  test("--json prints {exitCode, stdout, stderr, durationMs}", async () => {
    const r = await runBin(["exec", "--json", "--", "echo", "a b"]);
    expect(r.code).toBe(0);
    const j = parseJson(r.stdout);
    expect(j).toMatchObject({ exitCode: 0, stdout: "a b\n", stderr: "" });
    expect(j.durationMs).toBeGreaterThan(0);
  });

  test("--cwd mounts that directory; a missing one is exit 2", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "marker.txt"), "here");
    const r = await runBin(["exec", "--cwd", dir, "--", "cat /workspace/marker.txt"]);
    expect(r.stdout).toBe("here");
    const missing = await runBin(["exec", "--cwd", join(dir, "nope"), "--", "true"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("does not exist");
  });

  test("a missing command after -- is exit 2 with a hint", async () => {
    const r = await runBin(["exec"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: no command given");
    expect(r.stderr).toContain("hint:");
  });

  test("--timeout stops the command with exit 124", async () => {
    const r = await runBin(["exec", "--timeout", "1", "--", "sleep 20"]);
    expect(r.code).toBe(124);
    expect(r.durationMs).toBeLessThan(15_000);
  });

  test("a .env in the current directory does not change the binary's environment", async () => {
    const dir = await tempDir();
    const decoyCache = join(dir, "decoy-cache");
    await writeFile(join(dir, ".env"), `AGENTOS_SIDECAR_BIN=/nonexistent/sidecar\nPAPERCLIP_AOS_CACHE=${decoyCache}\n`);
    await writeFile(join(dir, "bunfig.toml"), `preload = ["./evil.ts"]\n`);
    await writeFile(join(dir, "evil.ts"), `console.log("EVIL-PRELOAD")\n`);
    const r = await runBin(["exec", "--", "echo fine"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("fine\n");
    expect(existsSync(decoyCache)).toBe(false);
  });

  test("no sidecar process is left behind after exec, also when it fails", async () => {
    const cache = await privateCache();
    expect((await runBin(["exec", "--", "true"], { env: { PAPERCLIP_AOS_CACHE: cache } })).code).toBe(0);
    expect((await runBin(["exec", "--", "exit 3"], { env: { PAPERCLIP_AOS_CACHE: cache } })).code).toBe(3);
    await Bun.sleep(300);
    expect(processesMentioning(cache)).toEqual([]);
  });
});

describe("runtime assets", () => {
  test("booting a VM in a process leaves its environment as it was, so the binaries it starts later are unaffected", async () => {
    const keys = ["AGENTOS_SIDECAR_BIN", "PAPERCLIP_AOS_REAL_SIDECAR", "PAPERCLIP_AOS_SIDECAR_LOG", "AGENTOS_V8_WARM_ISOLATES", "AGENTOS_LOG_LEVEL"];
    const before = keys.map((k) => process.env[k]);
    const handle = await bootVm({});
    const r = await handle.vm.process.exec("echo in-process", { output: { capture: "all" } });
    await handle.close();
    expect(r.stdout).toBe("in-process\n");
    expect(keys.map((k) => process.env[k])).toEqual(before);
    expect((await runBin(["exec", "--", "echo after"])).stdout).toBe("after\n");
  });

  test("AGENTOS_SIDECAR_BIN replaces the bundled sidecar (the compiled binary too); a missing one is exit 2", async () => {
    const dir = await tempDir();
    const marker = join(dir, "own-sidecar-ran");
    // A sidecar of our own: it records that it was the one started, then hands over to the bundled one.
    const real = (await readdir(join(sharedCache, "rt"))).find((f) => f.startsWith("agentos-sidecar-") && !f.endsWith(".ok"))!;
    const own = join(dir, "own-sidecar.sh");
    await writeFile(own, `#!/bin/sh
touch '${marker}'
exec '${join(sharedCache, "rt", real)}' "$@"
`, { mode: 0o755 });
    const r = await runBin(["exec", "--", "echo via-own"], { env: { AGENTOS_SIDECAR_BIN: own } });
    expect(r.stdout).toBe("via-own\n");
    expect(existsSync(marker)).toBe(true);
    // A paperclip-aos wrapper is not a sidecar: inherited from a parent paperclip-aos, it is ignored (it used to make
    // the wrapper exec itself until the run hung).
    const bin = join(sharedCache, "bin");
    const wrapper = join(bin, (await readdir(bin)).find((f) => f.startsWith("quiet-sidecar-"))!);
    const inherited = await runBin(["exec", "--", "echo not-looping"], { env: { AGENTOS_SIDECAR_BIN: wrapper } });
    expect(inherited.stdout).toBe("not-looping\n");
    const missing = await runBin(["exec", "--", "true"], { env: { AGENTOS_SIDECAR_BIN: join(dir, "nope") } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("AGENTOS_SIDECAR_BIN is set to");
  });

  test("a corrupted extracted asset is detected and re-extracted", async () => {
    const cache = await tempDir("aos-cache-");
    const env = { PAPERCLIP_AOS_CACHE: cache };
    expect((await runBin(["exec", "--", "true"], { env })).code).toBe(0);
    const rt = join(cache, "rt");
    const gzip = (await readdir(rt)).find((f) => f.startsWith("gzip-") && f.endsWith(".aospkg"))!;
    const size = (await stat(join(rt, gzip))).size;
    await appendFile(join(rt, gzip), "garbage");
    const r = await runBin(["exec", "--", "echo healed"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("healed\n");
    expect((await stat(join(rt, gzip))).size).toBe(size);
    // No half-written temp files are left in the cache.
    expect((await readdir(rt)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});


