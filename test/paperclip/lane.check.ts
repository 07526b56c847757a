/**
 * The Paperclip lane's checks (run only by test/paperclip/lane.sh, which installs and starts a real Paperclip
 * 2026.916.1 and registers the adapter with `paperclip-aos paperclip install`). Everything goes through Paperclip's
 * own API and UI: a company, agentos_local agents on the scripted model, issues, heartbeats, cancel, session reset.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const API = need("LANE_API");
const WORK = need("LANE_WORK"); // scripts, records, the agents' paperclip-aos state dir (removed by lane.sh)
const ARTIFACTS = need("LANE_ARTIFACTS");
const PLAYWRIGHT = need("LANE_PLAYWRIGHT"); // playwright-core's directory
const CHROMIUM = process.env.LANE_CHROMIUM ?? "/usr/bin/chromium";
const AOS_HOME = join(WORK, "aos-state");

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run test/paperclip/lane.sh`);
  return v;
}

type Json = Record<string, any>;
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${API}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { text };
  }
  return { status: r.status, json };
}
async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 400)}`);
  return r.json;
}

const TERMINAL = ["succeeded", "failed", "cancelled", "timed_out"];
async function waitRun(id: string, until: (r: Json) => boolean = (r) => TERMINAL.includes(r.status), timeoutMs = 180_000): Promise<Json> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await ok("GET", `/api/heartbeat-runs/${id}`);
    if (until(r)) return r;
    if (Date.now() > end) throw new Error(`run ${id} still ${r.status} after ${timeoutMs} ms`);
    await Bun.sleep(500);
  }
}
async function runsOf(agentId: string): Promise<Json[]> {
  return (await ok("GET", `/api/companies/${company.id}/heartbeat-runs`)).filter((r: Json) => r.agentId === agentId);
}
/** Paperclip queues follow-up runs (handoff, continuation) after an assignment: wait until the agent is idle. */
async function settle(agentId: string, timeoutMs = 240_000): Promise<Json[]> {
  const end = Date.now() + timeoutMs;
  let quietSince = 0;
  for (;;) {
    const runs = await runsOf(agentId);
    const busy = runs.some((r) => ["queued", "running"].includes(r.status));
    if (busy) quietSince = 0;
    else if (!quietSince) quietSince = Date.now();
    else if (Date.now() - quietSince > 4000) return runs;
    if (Date.now() > end) throw new Error(`agent ${agentId} never settled: ${runs.map((r) => r.status).join(",")}`);
    await Bun.sleep(500);
  }
}
async function logOf(runId: string): Promise<{ stream: string; chunk: string }[]> {
  const r = await ok("GET", `/api/heartbeat-runs/${runId}/log`);
  return String(r.content ?? "")
    .split("\n")
    .filter(Boolean)
    .map((l: string) => JSON.parse(l));
}
const eventsOf = (log: { stream: string; chunk: string }[]) =>
  log.filter((l) => l.stream === "stdout" && l.chunk.startsWith("{")).map((l) => JSON.parse(l.chunk) as Json);

async function script(name: string, steps: unknown[]): Promise<string> {
  const file = join(WORK, `${name}.json`);
  await writeFile(file, JSON.stringify({ steps }));
  return file;
}
/** The gateway's record of one run's model requests: the lines carrying that run's id (it is in the instructions). */
function requestsOf(record: string, runId: string): string[] {
  return existsSync(record) ? readFileSync(record, "utf8").split("\n").filter((l) => l.includes(runId)) : [];
}

async function createAgent(name: string, model: string, extra: Json = {}): Promise<Json> {
  const adapterConfig = { agent: "pi", model, preset: "workspace-write", record: join(WORK, `${name}.record.ndjson`), env: { PAPERCLIP_AOS_HOME: AOS_HOME }, ...extra };
  const agent = await ok("POST", `/api/companies/${company.id}/agents`, {
    name,
    adapterType: "agentos_local",
    adapterConfig,
    runtimeConfig: { heartbeat: { enabled: false } },
  });
  return { ...agent, adapterConfig, record: adapterConfig.record };
}
async function wake(agentId: string, payload: Json = {}, reason = "lane"): Promise<Json> {
  return ok("POST", `/api/agents/${agentId}/wakeup`, { source: "on_demand", triggerDetail: "manual", reason, payload });
}

let company: Json;
const timings: Record<string, number> = {};
const ui: { success?: Json; failed?: Json } = {};
const started = performance.now();

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  company = await ok("POST", "/api/companies", { name: "agentOS lane" });
  company = await ok("GET", `/api/companies/${company.id}`);
});
afterAll(() => {
  timings.total = Math.round(performance.now() - started);
  appendFileSync(join(ARTIFACTS, "timings.json"), `${JSON.stringify(timings)}\n`);
});

const time = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - t);
  }
};

describe("agentos_local under a real Paperclip", () => {
  let builder: Json;
  let issue: Json;
  let firstRun: Json;
  /** The first turn's tool call id: in a resumed session's model requests (its history), in no fresh one's. */
  let firstToolId: string;

  test("the adapter is registered from the state dir, with its ui-parser, and testEnvironment passes with the agent's state dir", async () => {
    const info = await ok("GET", "/api/adapters/agentos_local");
    expect(info).toMatchObject({ type: "agentos_local", source: "external", loaded: true, isLocalPath: true });
    const parser = await fetch(`${API}/api/adapters/agentos_local/ui-parser.js`).then((r) => r.text());
    expect(parser).toContain("module.exports = { parseStdoutLine }");
    const schema = await ok("GET", "/api/adapters/agentos_local/config-schema");
    expect(schema.fields.map((f: Json) => f.key)).toContain("preset");

    const adapterConfig = { agent: "pi", model: "scripted:/nowhere.json", env: { PAPERCLIP_AOS_HOME: AOS_HOME } };
    const env = await time("testEnvironment", () => ok("POST", `/api/companies/${company.id}/adapters/agentos_local/test-environment`, { adapterConfig }));
    expect(env.status).toBe("pass");
    expect(env.checks.find((c: Json) => c.code === "state_dir").message).toContain(AOS_HOME);
  });

  test("an assigned issue: the heartbeat succeeds; Paperclip stores the transcript, the usage and a zero cost", async () => {
    const model = `scripted:${await script("builder", [
      { tool: "bash", input: { command: "echo hi > /workspace/hello.txt && cat /workspace/hello.txt" }, usage: { input: 1000, output: 20 } },
      { text: "Wrote hello.txt. The secret word is PAPAYA.", usage: { input: 1100, output: 15 } },
    ])}`;
    builder = await createAgent("builder", model);
    issue = await ok("POST", `/api/companies/${company.id}/issues`, { title: "Say hello", description: "Write hello.txt", assigneeAgentId: builder.id, status: "todo" });
    const runs = await time("assignment", () => settle(builder.id));
    const assigned = runs.find((r) => r.contextSnapshot?.wakeReason === "issue_assigned");
    expect(assigned).toBeDefined();
    firstRun = await ok("GET", `/api/heartbeat-runs/${assigned!.id}`); // the list holds a summary of resultJson only
    expect(firstRun).toMatchObject({ status: "succeeded", exitCode: 0, error: null });
    expect(firstRun.usageJson).toMatchObject({ inputTokens: 2100, outputTokens: 35, costUsd: 0, provider: "scripted", usageSource: "per_run" });
    expect(firstRun.resultJson).toMatchObject({ subtype: "success", summary: "Wrote hello.txt. The secret word is PAPAYA." });
    const evs = eventsOf(await logOf(firstRun.id));
    expect(evs[0]).toMatchObject({ type: "init", resumed: false, runtime: "agentos" });
    expect(evs.find((e) => e.type === "tool_call")).toMatchObject({ name: "bash", input: { command: "echo hi > /workspace/hello.txt && cat /workspace/hello.txt" } });
    expect(evs.find((e) => e.type === "tool_result")?.content).toContain("hi");
    firstToolId = evs.find((e) => e.type === "tool_call")!.toolUseId;
    expect(evs.at(-1)).toMatchObject({ type: "result", subtype: "success", costUsd: 0 });
    // Nothing on stderr (every stderr line is a red box on the run page).
    expect((await logOf(firstRun.id)).filter((l) => l.stream === "stderr")).toEqual([]);
    const costs = await ok("GET", `/api/companies/${company.id}/costs/by-agent`);
    expect(costs.find((c: Json) => c.agentId === builder.id)).toMatchObject({ costCents: 0 });
    expect((await ok("GET", `/api/companies/${company.id}/costs/summary`)).spendCents).toBe(0);
    ui.success = firstRun;
  });

  test("the next heartbeat on the same issue resumes: its model requests hold the first turn", async () => {
    // Paperclip's own follow-up (finish_successful_run_handoff: {sessionId} without cwd), then an explicit wake.
    const handoff = (await runsOf(builder.id)).find((r) => r.contextSnapshot?.wakeReason === "finish_successful_run_handoff");
    const again = handoff ? await ok("GET", `/api/heartbeat-runs/${handoff.id}`) : await waitRun((await wake(builder.id, { issueId: issue.id })).id);
    expect(again.status).toBe("succeeded");
    expect(again.sessionIdBefore).toBe(firstRun.sessionIdAfter);
    expect(eventsOf(await logOf(again.id))[0]).toMatchObject({ type: "init", resumed: true, sessionId: firstRun.sessionIdAfter });
    const requests = requestsOf(builder.record, again.id);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.some((l) => l.includes(firstToolId) && l.includes("PAPAYA"))).toBe(true);

    const explicit = await waitRun((await wake(builder.id, { issueId: issue.id })).id);
    expect(explicit.status).toBe("succeeded");
    expect(eventsOf(await logOf(explicit.id))[0]).toMatchObject({ type: "init", resumed: true, sessionId: firstRun.sessionIdAfter });
    await settle(builder.id);
  });

  test("Paperclip's session reset (sessionParams null) starts a fresh session", async () => {
    await ok("POST", `/api/agents/${builder.id}/runtime-state/reset-session`, { taskKey: issue.id });
    const run = await waitRun((await wake(builder.id, { issueId: issue.id })).id);
    expect(run.status).toBe("succeeded");
    const init = eventsOf(await logOf(run.id))[0]!;
    expect(init).toMatchObject({ type: "init", resumed: false, resumeMode: "fresh" });
    expect(init.sessionId).not.toBe(firstRun.sessionIdAfter);
    const requests = requestsOf(builder.record, run.id);
    expect(requests.length).toBeGreaterThan(0);
    // (The first run's summary reaches it as Paperclip's issue comment in the wake prompt; its conversation does not.)
    expect(requests.some((l) => l.includes(firstToolId))).toBe(false);
    await settle(builder.id);
  });

  test("an overloaded model: the run fails with transient_upstream and a readable error, and Paperclip schedules the retry after Retry-After", async () => {
    const agent = await createAgent("overloaded", `scripted:${await script("overloaded", [{ error: { status: 529, message: "Overloaded", retryAfter: 600 } }])}`);
    const run = await time("overloaded", async () => waitRun((await wake(agent.id)).id));
    expect(run.status).toBe("failed");
    expect(run.errorCode).toBe("upstream_overloaded");
    expect(run.error).toBe("the model provider is overloaded (HTTP 529): Overloaded");
    expect(run.resultJson).toMatchObject({ errorFamily: "transient_upstream", summary: run.error });
    const notBefore = Date.parse(run.resultJson.retryNotBefore);
    expect(notBefore).toBeGreaterThan(Date.parse(run.finishedAt) + 590_000);
    const log = await logOf(run.id);
    expect(log.map((l) => l.chunk).join("")).not.toContain('529 {\\"type\\":\\"error\\"');
    const end = Date.now() + 30_000;
    let retry: Json | undefined;
    while (!retry && Date.now() < end) {
      retry = (await runsOf(agent.id)).find((r) => r.retryOfRunId === run.id);
      if (!retry) await Bun.sleep(500);
    }
    expect(retry).toBeDefined();
    expect(retry!.status).toBe("scheduled_retry");
    expect(Date.parse(retry!.scheduledRetryAt)).toBeGreaterThanOrEqual(notBefore - 1000);
    ui.failed = run;
  });

  test("a timeout ends the run timed_out", async () => {
    const agent = await createAgent("slow", `scripted:${await script("slow", [{ text: "too late", delayMs: 120_000 }])}`, { timeoutSec: 5 });
    const run = await time("timeout", async () => waitRun((await wake(agent.id)).id));
    expect(run.status).toBe("timed_out");
    expect(run.errorCode).toBe("timeout");
    expect(run.resultJson).toMatchObject({ subtype: "timeout", timedOut: true });
  });

  test("run cancel mid-run answers 200, the run ends cancelled (acknowledged) and no process is left", async () => {
    const agent = await createAgent("cancelled", `scripted:${await script("cancelled", [{ text: "never", delayMs: 120_000 }])}`);
    const queued = await wake(agent.id);
    // Mid-run: the VM is up and the agent waits on the model.
    const running = await waitRun(queued.id, (r) => r.status === "running" && r.processGroupId > 0, 120_000);
    const end = Date.now() + 120_000;
    while (!eventsOf(await logOf(running.id)).some((e) => e.type === "init")) {
      if (Date.now() > end) throw new Error("the run never started its session");
      await Bun.sleep(500);
    }
    const tree = descendants(running.processPid);
    expect(tree.length).toBeGreaterThan(1); // paperclip-aos and its agentOS sidecar
    const cancel = await time("cancel", () => api("POST", `/api/heartbeat-runs/${running.id}/cancel`, {}));
    expect(cancel.status).toBe(200);
    const done = await waitRun(running.id);
    expect(done.status).toBe("cancelled");
    expect(done.resultJson.executionCancellation).toMatchObject({ state: "acknowledged" });
    expect(tree.filter(alive)).toEqual([]);
    expect(groupAlive(running.processGroupId)).toBe(false);
  });

  test("the run pages in a real browser show our parser's transcript (screenshots kept)", async () => {
    expect(ui.success && ui.failed).toBeTruthy();
    const { chromium } = (await import(join(PLAYWRIGHT, "index.mjs"))) as { chromium: Chromium };
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    try {
      // Paperclip's service worker would serve the cached (unpatched) bundle to the second page, past the route below.
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, serviceWorkers: "block" });
      const page = await context.newPage();
      // Paperclip 2026.916.1's parser worker dies on its lock-down of read-only globals in strict mode
      // (`self.caches = _undefined;`, and in Chromium `self.indexedDB` too: upstream issue #12223), and the UI then
      // shows raw stdout for every external adapter. Patched in the served bundle, in this test only.
      let patched = 0;
      await page.route("**/assets/*.js", async (route) => {
        const res = await route.fetch();
        const body = await res.text();
        if (!body.includes("self.caches = _undefined;")) return route.fulfill({ response: res, body });
        patched++;
        return route.fulfill({ response: res, body: body.replace(/^self\.(caches|indexedDB) = _undefined;$/gm, "try { self.$1 = _undefined; } catch (_) {}") });
      });
      /** The page's text, and the transcript box's alone (the run list beside it repeats each run's summary). */
      const read = async () => {
        const all = await page.locator("body").innerText();
        const from = all.indexOf("Transcript (");
        return { all, transcript: all.slice(from, all.indexOf("\nEvents (", from)) };
      };
      const open = async (run: Json, name: string, expand?: string) => {
        await page.goto(`${API}/${company.issuePrefix}/agents/${run.agentId}/runs/${run.id}`);
        await page.getByText(/Transcript \(\d+\)/).first().waitFor({ timeout: 60_000 });
        await page.waitForLoadState("networkidle");
        await Bun.sleep(1500); // parsed entries arrive after the worker answers
        if (expand) {
          await page.getByText(expand).first().click();
          await Bun.sleep(500);
        }
        const text = await read();
        // The app scrolls inside inner containers: the tallest one is the page's real height.
        const height = await page.evaluate(() => Math.max(...[...(globalThis as any).document.querySelectorAll("*")].map((e: { scrollHeight: number }) => e.scrollHeight)));
        await page.setViewportSize({ width: 1400, height: Math.min(Math.max(height, 1000), 8000) });
        await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
        await page.setViewportSize({ width: 1400, height: 1000 });
        return text;
      };
      // A tool call is one collapsed "EXECUTED COMMAND" row: expanded, it shows the command and its output.
      const good = await time("ui", () => open(ui.success!, "run-succeeded", "EXECUTED COMMAND"));
      expect(patched).toBeGreaterThan(0);
      expect(good.all).not.toContain('{"type":');
      expect(good.transcript).toContain("INIT");
      expect(good.transcript).toContain("echo hi > /workspace/hello.txt");
      expect(good.transcript).toMatch(/\bhi\b/);
      // The answer once: not its deltas, not again as the result.
      expect(good.transcript.split("The secret word is PAPAYA.").length - 1).toBe(1);
      expect(good.transcript).toContain("Completed");
      // Usage from what Paperclip stored (usageJson): 2,100 in / 35 out.
      expect(good.all).toMatch(/Input\s+2\.1k\s+Output\s+35/);
      const bad = await open(ui.failed!, "run-failed");
      expect(bad.all).not.toContain('{"type":');
      expect(bad.transcript).toContain("the model provider is overloaded (HTTP 529): Overloaded");
      expect(bad.all).not.toContain("529 {");
    } finally {
      await browser.close();
    }
  });
});

/** The part of playwright-core's API used here (it is installed by lane.sh into the lane's cache, not the repo). */
interface Response0 {
  text(): Promise<string>;
}
interface Route {
  fetch(): Promise<Response0>;
  fulfill(o: { response?: Response0; body?: string }): Promise<void>;
}
interface Page {
  route(glob: string, handler: (r: Route) => Promise<void>): Promise<void>;
  goto(url: string): Promise<unknown>;
  getByText(text: RegExp | string): { first(): { waitFor(o: { timeout: number }): Promise<void>; click(): Promise<void> } };
  waitForLoadState(state: "networkidle"): Promise<void>;
  locator(sel: string): { innerText(): Promise<string> };
  evaluate<T>(fn: () => T): Promise<T>;
  setViewportSize(o: { width: number; height: number }): Promise<void>;
  screenshot(o: { path: string; fullPage: boolean }): Promise<unknown>;
}
interface Chromium {
  launch(o: { executablePath: string; headless: boolean; args: string[] }): Promise<{
    newContext(o: { viewport: { width: number; height: number }; serviceWorkers: "block" }): Promise<{ newPage(): Promise<Page> }>;
    close(): Promise<void>;
  }>;
}

function descendants(pid: number): number[] {
  const rows = Bun.spawnSync(["ps", "-eo", "pid=,ppid="]).stdout.toString().trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of rows) if (pp === out[i] && !out.includes(p)) out.push(p);
  return out;
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
function groupAlive(pgid: number): boolean {
  return pgid > 0 && alive(-pgid);
}
