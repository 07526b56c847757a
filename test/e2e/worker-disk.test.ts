import { afterAll, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, privateCache, protocolEvents, removeTempDirs, runBin, spareReady, stopServe, tempDir } from "./helpers.ts";

/**
 * An agent filling the host's disk through its workspace. A worker's spare VM has its filesystem quota fixed large
 * before its workspace is known, so only our own filesystem at /workspace bounds what a heartbeat adds there (on
 * 1774d0c a heartbeat on a spare wrote 1.8 GiB past the 1 GiB that stops an in-process run). A small allowance
 * (PAPERCLIP_AOS_WRITE_ALLOWANCE_MB) keeps the test quick.
 */
const MB = 2 ** 20;
let serve: ReturnType<typeof Bun.spawn> | undefined;

afterAll(async () => {
  await stopServe(serve);
  await removeTempDirs();
});

const FILL = [
  // 20 MB against an allowance of 8: the write stops at 8; removed, it counts back, so 6 more fit; shrunk to 1 MB by
  // truncate, the 5 it gave up count back too, so 6 more fit again (7 in all), and 2 more after that do not.
  { tool: "bash", input: { command: "dd if=/dev/zero of=big bs=1048576 count=20 iflag=fullblock 2>/dev/null; echo fill=$?; rm big; dd if=/dev/zero of=again bs=1048576 count=6 iflag=fullblock 2>/dev/null; echo again=$?; truncate -s 1048576 again; dd if=/dev/zero of=more bs=1048576 count=6 iflag=fullblock 2>/dev/null; echo more=$?; dd if=/dev/zero of=over bs=1048576 count=2 iflag=fullblock 2>/dev/null; echo over=$?" } },
  { text: "done" },
];

async function scriptFile(steps: unknown[]): Promise<string> {
  const file = join(await tempDir("aos-dscript-"), "script.json");
  writeFileSync(file, JSON.stringify({ steps }));
  return file;
}

function toolOutput(stdout: string): string {
  return protocolEvents(stdout).filter((e) => e.type === "tool_result").map((e) => String(e.content)).join("\n");
}

/** FILL's writes up to the allowance went through, the one past it did not, and the shrink counted back. */
function expectAllowanceHeld(stdout: string, ws: string): void {
  const out = toolOutput(stdout);
  for (const line of ["fill=1", "again=0", "more=0", "over=1"]) expect(out).toContain(line);
  expect(statSync(join(ws, "again")).size).toBe(1 * MB);
  expect(statSync(join(ws, "more")).size).toBe(6 * MB);
}

test("a heartbeat on a worker's spare VM cannot add more than the write allowance to its workspace; what it removes counts back", async () => {
  const home = await tempDir("aos-dhome-");
  const cache = await privateCache();
  const env = { PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache };
  serve = Bun.spawn([binPath(), "serve", "--spares", "1"], { env: { ...process.env, ...env, PAPERCLIP_AOS_WRITE_ALLOWANCE_MB: "8" }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
  const status = async () => JSON.parse((await runBin(["serve", "--status", "--json"], { env })).stdout);
  // A first heartbeat teaches the worker the policy; the next one takes the spare made for it.
  const teach = await runBin(["run", "--cwd", await tempDir("aos-dws-"), "--model", `scripted:${await scriptFile([{ text: "hi" }])}`, "--prompt", "x"], { env });
  expect(teach.code).toBe(0);
  await spareReady(status, "pi");
  const ws = await tempDir("aos-dws-");
  const r = await runBin(["run", "--cwd", ws, "--model", `scripted:${await scriptFile(FILL)}`, "--prompt", "x"], { env });
  expect(r.code).toBe(0);
  expect((await status()).warm.spares.hits).toBe(1);
  expectAllowanceHeld(r.stdout, ws);
});

test("in-process, the same allowance holds", async () => {
  const home = await tempDir("aos-dhome-");
  const ws = await tempDir("aos-dws-");
  const r = await runBin(["run", "--worker", "off", "--cwd", ws, "--model", `scripted:${await scriptFile(FILL)}`, "--prompt", "x"], {
    env: { PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: await privateCache(), PAPERCLIP_AOS_WRITE_ALLOWANCE_MB: "8" },
  });
  expect(r.code).toBe(0);
  expectAllowanceHeld(r.stdout, ws);
});
