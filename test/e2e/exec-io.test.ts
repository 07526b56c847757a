import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { binPath, parseJson, removeTempDirs, runBin, sharedCache, tempDir } from "./helpers.ts";

/** exec's stdin, --debug, --timeout, --json and terminal behaviour, through the compiled binary. */
// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);
const workspace = () => tempDir("aos-exec-io-");

function env(dir: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, PAPERCLIP_AOS_HOME: join(dir, ".aos-state"), PAPERCLIP_AOS_CACHE: sharedCache, NO_COLOR: "1", CI: undefined, ...extra })) {
    if (v !== undefined) e[k] = v;
  }
  return e;
}

/** Run `command` under a pseudo-terminal (util-linux `script`) and return what the person at it sees. */
async function underPty(dir: string, command: string, input?: string[]): Promise<{ code: number; screen: string }> {
  const p = Bun.spawn(["script", "-qec", command, "/dev/null"], { cwd: dir, env: env(dir), stdin: "pipe", stdout: "pipe", stderr: "pipe", timeout: 110_000 });
  for (const line of input ?? []) p.stdin.write(line);
  p.stdin.flush();
  // script's stdin stays open until the command ends: its end would hang up the terminal.
  const [screen, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  p.stdin.end();
  return { code, screen };
}

describe("exec: stdin", () => {
  test("piped stdin reaches the command and its end is EOF (echo hi | exec -- wc -l prints 1)", async () => {
    const r = await runBin(["exec", "--", "wc -l"], { cwd: await workspace(), stdin: "hi\n" });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("1");
  });

  test("an empty stdin (< /dev/null) ends cat at once", async () => {
    const r = await runBin(["exec", "--", "cat; echo done"], { cwd: await workspace() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("done\n");
  });

  test("a command ends when it is done although the pipe feeding it stays open (sleep 25 | exec -- ...)", async () => {
    const dir = await workspace();
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const stdin = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
    feed.enqueue(new TextEncoder().encode("first\n"));
    // The writer never closes the pipe: `read` gets the first line, the command ends, and so must exec.
    const p = Bun.spawn([binPath(), "exec", "--", "read l; echo got $l"], { cwd: dir, env: env(dir), stdin, stdout: "pipe", stderr: "pipe", timeout: 110_000 });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    expect(out).toBe("got first\n");
  });
});

describe("exec: --debug, --timeout, --json", () => {
  test("--debug works when stderr is a pipe and when it is a file", async () => {
    const dir = await workspace();
    const piped = await runBin(["exec", "--debug", "--", "echo dbg"], { cwd: dir });
    expect(piped.stderr).not.toContain("No such device");
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe("dbg\n");
    const log = join(dir, "stderr.log");
    const p = Bun.spawn([binPath(), "exec", "--debug", "--", "echo dbg"], { cwd: dir, env: env(dir), stdout: "pipe", stderr: Bun.file(log), timeout: 110_000 });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    const err = await readFile(log, "utf8");
    expect(err).not.toContain("No such device");
    expect(err).not.toContain("vm_boot_failed");
    expect(code).toBe(0);
    expect(out).toBe("dbg\n");
  });

  test("--debug works when stderr is a socket", async () => {
    const dir = await workspace();
    // A socketpair as the binary's stderr (as a service manager's journal socket would be); python3 holds the other end.
    const py = [
      "import socket, subprocess, sys",
      "a, b = socket.socketpair()",
      `p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=b.fileno())`,
      "b.close()",
      "a.settimeout(100)",
      "err = b''",
      "while True:",
      "    c = a.recv(65536)",
      "    if not c: break",
      "    err += c",
      "out = p.stdout.read()",
      "code = p.wait()",
      "sys.stdout.write(f'{code}\\n{out.decode()}---\\n{err.decode(errors=\"replace\")}')",
    ].join("\n");
    const p = Bun.spawn(["python3", "-c", py, binPath(), "exec", "--debug", "--", "echo dbg"], { cwd: dir, env: env(dir), stdout: "pipe", stderr: "pipe", timeout: 110_000 });
    const text = await new Response(p.stdout).text();
    await p.exited;
    const [head, err] = text.split("---\n");
    expect(err).not.toContain("No such device");
    expect(err).not.toContain("vm_boot_failed");
    expect(head).toBe("0\ndbg\n");
  });

  test("--timeout counts the command, not the boot: what it printed before the deadline is shown, exit 124", async () => {
    const r = await runBin(["exec", "--timeout", "3", "--", "echo start; sleep 30; echo never"], { cwd: await workspace() });
    expect(r.code).toBe(124);
    expect(r.stdout).toBe("start\n");
    expect(r.stderr).toContain("did not finish within 3s");
  });

  test("--json output has no colour codes from the guest", async () => {
    const r = await runBin(["exec", "--json", "--", "printf '\\033[31mred\\033[0m\\n'; printf '\\033[1mbold\\033[0m' >&2"], { cwd: await workspace() });
    expect(r.code).toBe(0);
    const doc = parseJson(r.stdout);
    expect(doc.stdout).toBe("red\n");
    expect(doc.stderr).toBe("bold");
  });
});

describe("exec on a terminal", () => {
  test("a spinner shows while the VM boots and is cleared before the output; a pipe gets none", async () => {
    const dir = await workspace();
    const { code, screen } = await underPty(dir, `${binPath()} exec -- echo hello`);
    expect(code).toBe(0);
    expect(screen).toContain("booting the VM");
    expect(screen).toMatch(/\r\x1b\[Khello\r?\n/);
    const piped = await runBin(["exec", "--", "echo hello"], { cwd: dir });
    expect(piped.stderr).not.toContain("booting");
  });

  test("a warning printed during the boot gets its own line: the spinner clears the line first and redraws below", async () => {
    const dir = await workspace();
    const { code, screen } = await underPty(dir, `${binPath()} exec --allow-write=/ -- echo hello`);
    expect(code).toBe(0);
    expect(screen).toContain("makes the whole VM filesystem writable");
    expect(screen).toMatch(/\r\x1b\[K⚠ [^\r\n]*makes the whole VM filesystem writable/);
    expect(screen).toContain("hello");
  });

  test("-i forwards what is typed to a shell in the VM; -t is refused with exit 2; a bare sh without -i says why it ends", async () => {
    const dir = await workspace();
    const typed = await underPty(dir, `${binPath()} exec -i -- sh`, ["echo typed-$((40+2))\n", "exit 3\n"]);
    expect(typed.screen).toContain("typed-42");
    expect(typed.code).toBe(3);
    const tty = await underPty(dir, `${binPath()} exec -t -- sh`);
    expect(tty.code).toBe(2);
    expect(tty.screen).toContain("exec cannot give the command a terminal (-t)");
    const bare = await underPty(dir, `${binPath()} exec -- sh`);
    expect(bare.code).toBe(0);
    expect(bare.screen).toContain("paperclip-aos exec -i -- sh");
  });
});

describe("exec: the VM's WASM memory limit", () => {
  // agentOS caps each WASM command's memory (128 MiB by default) by rewriting the module before it starts; the
  // compiled binary's sidecar carries our faster copy of that rewrite (src/runtime/sidecar-patch.ts). awk's module
  // declares no maximum of its own, so only that cap stops it.
  test("a WASM command that grows its memory past the limit fails; one that stays under it runs", async () => {
    const grow = (doublings: number) => `awk 'BEGIN { s = "x"; for (i = 0; i < ${doublings}; i++) s = s s; print length(s) }'`;
    const r = await runBin(["exec", "--", `${grow(24)}; ${grow(28)}; echo "exit $?"`], { cwd: await workspace() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("16777216\nexit 1\n");
    expect(r.stderr).toContain("memory allocation of");
  });
});
