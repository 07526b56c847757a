/**
 * Capabilities are enforced, not advisory: every forbidden attempt below is made by the guest in a real agentOS VM
 * (through `exec` of the compiled binary) and must fail with a permission error, while the allowed one succeeds.
 * Host-side effects are checked on the host: a refused write leaves the file as it was.
 *
 * The attempts are made as caps-attempts.ts says.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readFileSync, statSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { networkInterfaces } from "node:os";
import { runBin, tempDir, removeTempDirs } from "./helpers.ts";
import { attempts, DENIED, execReports, VM_TIMEOUT, type Attempt } from "./caps-attempts.ts";

afterAll(removeTempDirs);

function expectDenied(a: Attempt, name: string) {
  expect({ name, rc: a.rc === 0 ? 0 : "non-zero", denied: DENIED.test(a.out), out: a.out }).toMatchObject({ name, rc: "non-zero", denied: true });
}
function expectOk(a: Attempt, name: string) {
  expect({ name, rc: a.rc, out: a.out }).toMatchObject({ name, rc: 0 });
}

describe("fs.read / fs.write in a real VM", () => {
  /** Nothing but WASM commands, reading pub/ and out/ (not pub/secret/), writing out/. */
  const FS_FLAGS = ["--preset=none", "--allow-run=wasm", "--allow-read=pub,out", "--allow-write=out", "--deny-read=pub/secret"];
  let ws: string;
  let outside: string;
  beforeAll(async () => {
    ws = await tempDir("aos-caps-fs-");
    outside = await tempDir("aos-caps-outside-");
    await mkdir(join(ws, "pub/secret"), { recursive: true });
    await mkdir(join(ws, "out"));
    await mkdir(join(ws, "other"));
    await writeFile(join(ws, "pub/a.txt"), "public-content\n");
    await writeFile(join(ws, "pub/secret/k.txt"), "top-secret-content\n");
    await writeFile(join(ws, "other/x.txt"), "other-content\n");
    await writeFile(join(outside, "s.txt"), "host-secret-content\n");
    // Host-made symlinks inside the workspace that point outside it: the classic escape.
    await symlink(join(outside, "s.txt"), join(ws, "pub/hostlink"));
    await symlink(outside, join(ws, "pub/hostdir"));
  });

  test("the forbidden attempts fail with a permission error, the allowed ones succeed, the host files stay as they were", async () => {
    const { r, get } = await attempts(
      ws,
      FS_FLAGS,
      [
        ["read_ok", "cat pub/a.txt"],
        ["read_denied_by_rule", "cat pub/secret/k.txt"],
        ["read_not_allowed", "cat other/x.txt"],
        ["write_ok", "echo w > out/new.txt"],
        ["write_outside", "echo w > pub/new.txt"],
        ["overwrite_outside", "echo w > pub/a.txt"],
        ["append_outside", "echo w >> other/x.txt"],
        ["create_dir_outside", "mkdir pub/d"],
        ["create_dir_ok", "mkdir out/d"],
        ["touch_outside", "touch pub/t.txt"],
        ["rename_outside", "mv pub/a.txt out/a.txt"],
        ["rename_into_outside", "echo m > out/m.txt && mv out/m.txt pub/m.txt"],
        ["delete_outside", "rm pub/a.txt"],
        ["delete_dir_outside", "rm -r other"],
        ["symlink_outside", "ln -s /workspace/out/new.txt pub/link"],
        ["truncate_outside", ": > pub/a.txt"],
      ],
    );
    expect(r.code).toBe(0);
    expectOk(get("read_ok"), "read_ok");
    expect(get("read_ok").out).toContain("public-content");
    expectOk(get("write_ok"), "write_ok");
    expectOk(get("create_dir_ok"), "create_dir_ok");
    for (const n of [
      "read_denied_by_rule", "read_not_allowed", "write_outside", "overwrite_outside", "append_outside", "create_dir_outside", "touch_outside",
      "rename_outside", "rename_into_outside", "delete_outside", "delete_dir_outside", "symlink_outside", "truncate_outside",
    ]) {
      expectDenied(get(n), n);
    }
    expect(r.stdout).not.toContain("top-secret-content");
    expect(r.stdout).not.toContain("other-content");
    // On the host: the allowed writes landed, the refused ones did not.
    expect(readFileSync(join(ws, "out/new.txt"), "utf8")).toBe("w\n");
    expect(statSync(join(ws, "out/d")).isDirectory()).toBe(true);
    expect(readFileSync(join(ws, "pub/a.txt"), "utf8")).toBe("public-content\n");
    expect(readFileSync(join(ws, "other/x.txt"), "utf8")).toBe("other-content\n");
    for (const p of ["pub/new.txt", "pub/d", "pub/t.txt", "pub/m.txt", "pub/link", "out/a.txt"]) expect({ p, exists: existsSync(join(ws, p)) }).toEqual({ p, exists: false });
  }, VM_TIMEOUT);

  test("escapes: '..', symlinks made in the VM or on the host that point elsewhere, absolute host paths", async () => {
    const { r, get } = await attempts(
      ws,
      FS_FLAGS,
      [
        ["dotdot_abs", "cat /workspace/out/../other/x.txt"],
        ["dotdot_rel", "cd out && cat ../other/x.txt"],
        ["dotdot_deep", "cat out/../../workspace/pub/secret/k.txt"],
        ["vm_link_to_denied_file", "ln -s /workspace/pub/secret/k.txt out/l1; cat out/l1"],
        ["vm_link_to_denied_dir", "ln -s ../other out/l2; cat out/l2/x.txt"],
        ["vm_link_write_through", "ln -s ../pub out/l3; echo x > out/l3/via-link.txt"],
        ["host_link_file", "cat pub/hostlink"],
        ["host_link_dir", "cat pub/hostdir/s.txt"],
        ["abs_host_path", `cat ${join(outside, "s.txt")}`],
        ["abs_host_ws_path", `cat ${join(ws, "pub/secret/k.txt")}`],
      ],
    );
    expect(r.code).toBe(0);
    for (const n of ["dotdot_abs", "dotdot_rel", "dotdot_deep", "vm_link_to_denied_file", "vm_link_to_denied_dir", "vm_link_write_through"]) {
      expectDenied(get(n), n);
    }
    // Host paths mean nothing in the VM: not found, and certainly not the host's content. A host symlink's absolute
    // target is one of them: the kernel resolves it in the VM (src/runtime/host-dir-vfs.ts never maps it to the host).
    for (const n of ["abs_host_path", "abs_host_ws_path", "host_link_file", "host_link_dir"]) {
      expect({ n, rc: get(n).rc === 0 ? 0 : "non-zero", out: get(n).out }).toMatchObject({ n, rc: "non-zero", out: expect.stringMatching(/No such file|Permission denied/) });
    }
    for (const secret of ["top-secret-content", "other-content", "host-secret-content"]) expect(r.stdout).not.toContain(secret);
    expect(existsSync(join(ws, "pub/via-link.txt"))).toBe(false);
    expect(readFileSync(join(outside, "s.txt"), "utf8")).toBe("host-secret-content\n");
  }, VM_TIMEOUT);
});

describe("mandatory denies in a real VM", () => {
  let ws: string;
  const HOOK = "#!/bin/sh\necho original hook\n";
  beforeAll(async () => {
    ws = await tempDir("aos-caps-mandatory-");
    await mkdir(join(ws, ".git/hooks"), { recursive: true });
    await mkdir(join(ws, "src"));
    await writeFile(join(ws, ".git/hooks/pre-commit"), HOOK);
    await writeFile(join(ws, ".git/config"), "[core]\n\tbare = false\n");
    await writeFile(join(ws, ".env"), "API_KEY=env-file-secret\n");
    await writeFile(join(ws, ".env.local"), "OTHER=env-local-secret\n");
    await writeFile(join(ws, "src/main.ts"), "export {};\n");
  });

  test("with the default workspace-write policy: hooks, git config and .env are refused; the rest of the workspace is writable", async () => {
    const { r, get } = await attempts(ws, [], [
      ["write_src", "echo ok > src/ok.txt"],
      ["hook_write", "echo evil >> .git/hooks/pre-commit"],
      ["hook_create", "echo evil > .git/hooks/post-checkout"],
      ["hook_rename", "mv .git/hooks/pre-commit .git/hooks/x"],
      ["hook_delete", "rm .git/hooks/pre-commit"],
      ["hook_replace_dir", "mv .git/hooks .git/hooks-old"],
      ["git_config_write", "echo '[core] fsmonitor = evil' >> .git/config"],
      ["git_config_read", "cat .git/config"],
      ["env_read", "cat .env"],
      ["env_local_read", "cat .env.local"],
      ["env_write", "echo X=1 >> .env"],
      ["env_link", "ln -s /workspace/.env src/innocent; cat src/innocent"],
      ["nested_env", "mkdir -p src/pkg && echo K=v > src/pkg/.env"],
      ["key_file", "echo k > src/server.key"],
      // Case tricks and Unicode look-alikes create other files; the real ones stay untouched.
      ["case_hook", "mkdir -p .GIT/hooks && echo evil > .GIT/hooks/pre-commit"],
      ["unicode_hook", "mkdir -p .g\u0456t/hooks && echo evil > .g\u0456t/hooks/pre-commit"],
      ["unicode_env", "echo x > .\u0435nv"],
    ]);
    expect(r.code).toBe(0);
    expectOk(get("write_src"), "write_src");
    expectOk(get("git_config_read"), "git_config_read");
    for (const n of ["hook_write", "hook_create", "hook_rename", "hook_delete", "hook_replace_dir", "git_config_write", "env_read", "env_local_read", "env_write", "env_link", "nested_env", "key_file"]) {
      expectDenied(get(n), n);
    }
    expect(r.stdout).not.toContain("env-file-secret");
    expect(r.stdout).not.toContain("env-local-secret");
    expect(readFileSync(join(ws, ".git/hooks/pre-commit"), "utf8")).toBe(HOOK);
    expect(existsSync(join(ws, ".git/hooks/post-checkout"))).toBe(false);
    expect(readFileSync(join(ws, ".git/config"), "utf8")).toBe("[core]\n\tbare = false\n");
    expect(readFileSync(join(ws, ".env"), "utf8")).toBe("API_KEY=env-file-secret\n");
    expect(existsSync(join(ws, "src/pkg/.env"))).toBe(false);
    expect(readFileSync(join(ws, "src/ok.txt"), "utf8")).toBe("ok\n");
    // The look-alikes were other files (this host's filesystem is case-sensitive), so they could be written.
    expectOk(get("case_hook"), "case_hook");
    expectOk(get("unicode_hook"), "unicode_hook");
    expect(readFileSync(join(ws, ".GIT/hooks/pre-commit"), "utf8")).toBe("evil\n");
    expect(lstatSync(join(ws, ".git/hooks/pre-commit")).size).toBe(HOOK.length);
  }, VM_TIMEOUT);

  test("an allow naming the exact path lifts one mandatory deny, for that path only", async () => {
    const { get } = await attempts(ws, ["--allow-read=.env"], [
      ["env_read", "cat .env"],
      ["env_local_read", "cat .env.local"],
      ["env_write", "echo X=1 >> .env"],
    ]);
    expectOk(get("env_read"), "env_read");
    expect(get("env_read").out).toContain("env-file-secret");
    expectDenied(get("env_local_read"), "env_local_read");
    expectDenied(get("env_write"), "env_write");
  }, VM_TIMEOUT);
});

describe("network.fetch / network.listen in a real VM", () => {
  const servers: ReturnType<typeof Bun.serve>[] = [];
  let allowed: number;
  let other: number;
  let redirecting: number;
  beforeAll(() => {
    servers.push(Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello-from-allowed-host-port") }));
    servers.push(Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello-from-other-host-port") }));
    allowed = servers[0]!.port!;
    other = servers[1]!.port!;
    // An allowed port that sends the guest on to the other one: each hop is checked again.
    servers.push(Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.redirect(`http://127.0.0.1:${other}/`, 302) }));
    redirecting = servers[2]!.port!;
  });
  afterAll(() => {
    for (const s of servers) s.stop(true);
  });

  // node's own output does not pass through the shell's command substitution, so each node script reports itself.
  const report = (name: string, body: string) =>
    `node -e "const rep=(rc,o)=>{console.log('@@${name} '+rc+' '+String(o).replace(/\\n/g,' '))};${body}"`;
  const fetchJs = (name: string, url: string) =>
    report(name, `fetch('${url}').then(r=>r.text()).then(t=>rep(0,t),e=>rep(3,e.cause||e))`);

  test("only the loopback port the policy names is reachable; listening only on allowed ports; the agent reaches its own listener", async () => {
    const ws = await tempDir("aos-caps-net-");
    const script = [
      fetchJs("fetch_allowed", `http://127.0.0.1:${allowed}/`),
      fetchJs("fetch_other_port", `http://127.0.0.1:${other}/`),
      fetchJs("fetch_localhost_other", `http://localhost:${other}/`),
      fetchJs("fetch_external", "http://example.com/"),
      report(
        "listen_allowed_and_self_fetch",
        "const s=require('http').createServer((q,r)=>r.end('own-listener')).listen(3000,()=>fetch('http://127.0.0.1:3000/').then(r=>r.text()).then(t=>{rep(0,'SELF '+t);s.close()},e=>{rep(3,e.cause||e);s.close()}));s.on('error',e=>rep(3,e.message))",
      ),
      report("listen_other", "require('http').createServer().listen(3001,()=>{rep(0,'LISTENING');process.exit(0)}).on('error',e=>rep(3,e.message))"),
    ].join("\n");
    const { r, get } = await execReports(ws, [`--allow-net=127.0.0.1:${allowed}`, "--allow-listen=3000"], script);
    expectOk(get("fetch_allowed"), "fetch_allowed");
    expect(get("fetch_allowed").out).toBe("hello-from-allowed-host-port");
    for (const n of ["fetch_other_port", "fetch_localhost_other", "fetch_external", "listen_other"]) expectDenied(get(n), n);
    expect(get("fetch_external").out).toContain("blocked by network.http policy");
    expect(get("listen_other").out).toContain("blocked by network.listen policy");
    expect(r.stdout).not.toContain("hello-from-other-host-port");
    expectOk(get("listen_allowed_and_self_fetch"), "listen_allowed_and_self_fetch");
    expect(get("listen_allowed_and_self_fetch").out).toBe("SELF own-listener");
  }, VM_TIMEOUT);

  test("a redirect from an allowed port to another is refused at the second hop; a lookup of a name the policy does not name is refused", async () => {
    const ws = await tempDir("aos-caps-net-");
    const lookupJs = (name: string, host: string) => report(name, `require('dns').lookup('${host}',(e,a)=>e?rep(3,e.message):rep(0,a))`);
    const script = [
      fetchJs("fetch_redirected", `http://127.0.0.1:${redirecting}/`),
      // (exits at once: the unread body would keep the connection, and node, open for the server's keep-alive)
      report("fetch_redirect_manual", `fetch('http://127.0.0.1:${redirecting}/',{redirect:'manual'}).then(r=>{rep(0,r.status+' '+r.headers.get('location'));process.exit(0)},e=>rep(3,e.cause||e))`),
      lookupJs("lookup_other", "other-name.example.org"),
      lookupJs("lookup_named", "example.com"),
    ].join("\n");
    const { r, get } = await execReports(ws, [`--allow-net=127.0.0.1:${redirecting}`, "--allow-net=example.com"], script);
    // The first hop is allowed (the 302 itself arrives when not followed); following it is not.
    expect(get("fetch_redirect_manual")).toMatchObject({ rc: 0, out: `302 http://127.0.0.1:${other}/` });
    expectDenied(get("fetch_redirected"), "fetch_redirected");
    expect(r.stdout).not.toContain("hello-from-other-host-port");
    expectDenied(get("lookup_other"), "lookup_other");
    expect(get("lookup_other").out).toContain("blocked by network.dns policy");
    // The named one is asked of the resolver (this machine may have none): whatever it answers, it is not the policy's refusal.
    expect(get("lookup_named").out).not.toContain("policy");
  }, VM_TIMEOUT);

  // A host service on all interfaces is the host's like its loopback: --allow-net must not reach it by the host's
  // LAN address (agentOS closes only loopback), in any spelling; an allow naming the address still does.
  const lan = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === "IPv4")?.address;
  test.skipIf(!lan)("--allow-net does not reach a host service listening on all interfaces through the host's own address; an exact allow of it does", async () => {
    const host = Bun.serve({ hostname: "0.0.0.0", port: 0, fetch: () => new Response("hello-from-host-lan-service") });
    try {
      const ws = await tempDir("aos-caps-net-");
      const asInt = lan!.split(".").reduce((n, o) => n * 256 + Number(o), 0);
      const tcpJs = (name: string, h: string) =>
        report(name, `const s=require('net').connect({host:'${h}',port:${host.port}},()=>s.write('GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n'));let b='';s.on('data',d=>b+=d);s.on('end',()=>rep(0,b.slice(-40)));s.on('error',e=>rep(3,e.message))`);
      const script = [
        fetchJs("fetch_lan", `http://${lan}:${host.port}/`),
        fetchJs("fetch_lan_int", `http://${asInt}:${host.port}/`),
        fetchJs("fetch_lan_mapped", `http://[::ffff:${lan}]:${host.port}/`),
        tcpJs("tcp_lan", lan!),
        tcpJs("tcp_lan_mapped", `::ffff:${lan}`),
      ].join("\n");
      const all = await execReports(ws, ["--allow-net"], script);
      for (const n of ["fetch_lan", "fetch_lan_int", "fetch_lan_mapped", "tcp_lan", "tcp_lan_mapped"]) expectDenied(all.get(n), n);
      expect(all.r.stdout).not.toContain("hello-from-host-lan-service");
      const exact = await execReports(ws, [`--allow-net=${lan}:${host.port}`], fetchJs("fetch_lan", `http://${lan}:${host.port}/`));
      expect(exact.get("fetch_lan")).toMatchObject({ rc: 0, out: "hello-from-host-lan-service" });
    } finally {
      host.stop(true);
    }
  }, VM_TIMEOUT);
});

describe("env.read and process.spawn in a real VM", () => {
  test("a host variable the policy does not name is invisible; a named one is passed", async () => {
    const ws = await tempDir("aos-caps-env-");
    const env = { AOS_CAPS_VISIBLE: "visible-value", AOS_CAPS_HIDDEN: "hidden-s3cr3t", AOS_CAPS_PREFIX_A: "prefixed-a" };
    const { r, get } = await attempts(ws, ["--allow-env=AOS_CAPS_VISIBLE,AOS_CAPS_PREFIX_*"], [
      ["env_vars", 'echo "v=[$AOS_CAPS_VISIBLE] h=[$AOS_CAPS_HIDDEN] p=[$AOS_CAPS_PREFIX_A]"'],
      ["env_dump", "env"],
    ], env);
    expect(r.code).toBe(0);
    expect(get("env_vars").out).toBe("v=[visible-value] h=[] p=[prefixed-a]");
    expect(get("env_dump").out).toContain("AOS_CAPS_VISIBLE=visible-value");
    expect(r.stdout + r.stderr).not.toContain("hidden-s3cr3t");
  }, VM_TIMEOUT);

  test("a denied driver cannot start; an allowed one can; shell builtins need no driver", async () => {
    const ws = await tempDir("aos-caps-spawn-");
    await writeFile(join(ws, "f.txt"), "file-content\n");
    const { r, get } = await attempts(ws, ["--deny-run=node"], [
      ["wasm_allowed", "cat f.txt"],
      ["node_denied", 'node -e "console.log(1)"'],
    ]);
    expect(r.code).toBe(0);
    expectOk(get("wasm_allowed"), "wasm_allowed");
    expectDenied(get("node_denied"), "node_denied");
    // No driver at all: only the shell's builtins run (the prelude's helpers need `tr`, so plain commands here).
    const none = await runBin(["exec", "--preset=none", "--allow-read=f.txt", "--", 'echo builtin-ran; cat f.txt; echo "cat-rc=$?"'], { cwd: ws });
    expect(none.stdout).toContain("builtin-ran");
    expect(none.stdout).toContain("cat-rc=126");
    expect(none.stdout).not.toContain("file-content");
    expect(none.stderr).toContain("failed to execute command 'cat': Permission denied");
  }, VM_TIMEOUT);
});

describe("tool.invoke in a real VM", () => {
  test("a denied tool is blocked by the kernel's hostFunction policy; a more specific allow wins over a deny", async () => {
    const ws = await tempDir("aos-caps-tool-");
    // Host-function output does not pass through command substitution; each call is followed by its exit code.
    const script = [
      `agentos-paperclip services-list --json '{}'; echo "@@services_list $?"`,
      `agentos-paperclip git-status --json '{}'; echo "@@git_status $?"`,
      `agentos-paperclip git-log --json '{}'; echo "@@git_log $?"`,
    ].join("\n");
    // --allow-tool names the tools (it replaces the preset's tool rules): all, but git's, but git.log.
    const r = await runBin(["exec", "--allow-tool=*,git.log", "--deny-tool=git.*", "--", script], { cwd: ws });
    const all = r.stdout + r.stderr;
    expect(r.stdout).toContain('"ok":true');
    expect(r.stdout).toContain("@@services_list 0");
    expect(r.stdout).not.toContain("@@git_status 0");
    expect(all).toContain("blocked by hostFunction.invoke policy for paperclip:git-status");
    // git.log is allowed: it runs (and fails only because this directory is not a git repository).
    expect(all).not.toContain("blocked by hostFunction.invoke policy for paperclip:git-log");
    expect(all).toContain("not_a_git_repo");
  }, VM_TIMEOUT);
});

describe("policy input on exec", () => {
  test("--caps FILE and --preset are enforced; an invalid policy or a misspelled flag stops before a VM boots (exit 2)", async () => {
    const ws = await tempDir("aos-caps-input-");
    await writeFile(join(ws, "a.txt"), "a\n");
    await writeFile(join(ws, "policy.json"), JSON.stringify({ version: 1, extends: "read-only", deny: { "fs.read": ["a.txt"] } }));
    const { get } = await attempts(ws, ["--caps=policy.json"], [
      ["read_denied", "cat a.txt"],
      ["write_denied", "echo x > b.txt"],
      ["read_ok", "cat policy.json"],
    ]);
    expectDenied(get("read_denied"), "read_denied");
    // A policy that writes nothing in /workspace also mounts it read-only, and the mount answers first.
    expect(get("write_denied").rc).not.toBe(0);
    expect(get("write_denied").out).toMatch(/Read-only file system|Permission denied/);
    expectOk(get("read_ok"), "read_ok");
    expect(existsSync(join(ws, "b.txt"))).toBe(false);

    await writeFile(join(ws, "bad.json"), JSON.stringify({ version: 1, allow: { "fs.wirte": ["/workspace/**"] } }));
    const bad = await runBin(["exec", "--caps", "bad.json", "--", "echo should-not-run"], { cwd: ws });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("unknown capability 'fs.wirte'");
    expect(bad.stderr).toContain("did you mean 'fs.write'?");

    const typo = await runBin(["exec", "--alow-net=x.com", "--", "echo should-not-run"], { cwd: ws });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("did you mean '--allow-net'?");
  }, VM_TIMEOUT);
});
