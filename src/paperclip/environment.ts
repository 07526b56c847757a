import type { AdapterEnvironmentCheck, AdapterEnvironmentTestContext, AdapterEnvironmentTestResult } from "@paperclipai/adapter-utils";
import { lines, reapGroup, signalGroup, spawnGroup } from "./process.ts";
import { ADAPTER_TYPE, configEngine, configEnv, configPolicy, hostCodeEnvNames, inheritedEnv } from "./request.ts";
// The leaf module, not src/rivet: the adapter bundle stays free of the engine's modules.
import { ENGINE_TOKEN_ENV } from "../engine-token-env.ts";

const DOCTOR_TIMEOUT_MS = 180_000;
/** doctor's rows that engineUrl turns from information into requirements. */
const ENGINE_ROWS = new Set(["engine_parts", "engine_token"]);

/**
 * Paperclip's "Test environment" button: `paperclip-aos doctor --json` run with the agent's config env (so a state
 * dir or cache dir set there is the one checked, not the server's), plus the adapter's own checks of the config.
 */
export async function testEnvironment(ctx: AdapterEnvironmentTestContext, command: string[]): Promise<AdapterEnvironmentTestResult> {
  const checks: AdapterEnvironmentCheck[] = [];
  const policy = configPolicy(ctx.config);
  if (policy.error) checks.push({ code: "config_capabilities", level: "error", message: policy.error, hint: "a capability policy is one JSON object; see `paperclip-aos caps schema`" });
  if (ctx.executionTarget && (ctx.executionTarget as { kind?: string }).kind !== "local") {
    checks.push({ code: "execution_target", level: "error", message: "agentos_local runs on the Paperclip host only", hint: "use the local execution environment" });
  }
  const engine = engineCheck(ctx.config);
  if (ENGINE_TOKEN_ENV in configEnv(ctx.config)) {
    checks.push({
      code: "config_engine_token",
      level: "warn",
      message: `${ENGINE_TOKEN_ENV} is in the agent's adapter config env, which Paperclip stores and shows`,
      hint: "set it in the Paperclip server's environment instead (paperclip-aos inherits it from there)",
    });
  }
  const hostCode = hostCodeEnvNames(ctx.config);
  if (hostCode.length) {
    checks.push({
      code: "config_env_host_code",
      level: "warn",
      message: `${hostCode.join(", ")} in the agent's adapter config env is not passed to paperclip-aos: it would choose code run on the host, outside the VM`,
      hint: "set it in the Paperclip server's environment if you mean it (paperclip-aos inherits it from there)",
    });
  }
  const doctor = await runDoctor(command, { ...inheritedEnv(process.env), ...configEnv(ctx.config) });
  checks.push({ code: "paperclip_aos_binary", level: "info", message: `paperclip-aos: ${command.join(" ")}` });
  if ("error" in doctor) checks.push({ code: "doctor_failed", level: "error", message: doctor.error, hint: "run `paperclip-aos doctor` on the Paperclip host" });
  else {
    // With engineUrl, `run --engine` on this host needs the engine parts and the engine's token: their absence is an
    // error here, not information.
    const wantsEngine = engine !== null && !engine.invalid;
    checks.push(...doctor.checks.map((c) => (wantsEngine && ENGINE_ROWS.has(c.code) && c.hint ? { ...c, level: "error" as const } : c)));
  }
  if (engine) checks.push(await engine.check);
  const status = checks.some((c) => c.level === "error") ? "fail" : checks.some((c) => c.level === "warn") ? "warn" : "pass";
  return { adapterType: ADAPTER_TYPE, status, checks, testedAt: new Date().toISOString() };
}

/** adapterConfig.engineUrl: a bad value, or whether a Rivet engine answers there (GET /health). */
function engineCheck(config: Record<string, unknown>): { invalid: boolean; check: Promise<AdapterEnvironmentCheck> } | null {
  let url: string | undefined;
  try {
    url = configEngine(config);
  } catch (e) {
    return { invalid: true, check: Promise.resolve({ code: "config_engine_url", level: "error", message: (e as Error).message, hint: "for example http://127.0.0.1:6420" }) };
  }
  if (!url) return null;
  const engineUrl = url;
  const check = (async (): Promise<AdapterEnvironmentCheck> => {
    try {
      const res = await fetch(`${engineUrl}/health`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { runtime?: string; status?: string; version?: string };
      if (res.ok && body.runtime === "engine" && body.status === "ok") return { code: "engine_url", level: "info", message: `a Rivet engine answers at ${engineUrl} (rivet-engine ${body.version ?? "?"})` };
      return { code: "engine_url", level: "error", message: `${engineUrl} answers, but not as a Rivet engine (HTTP ${res.status})`, hint: "engineUrl is the engine's endpoint, e.g. http://127.0.0.1:6420" };
    } catch (e) {
      return { code: "engine_url", level: "error", message: `no Rivet engine answers at ${engineUrl}: ${(e as Error).message}`, hint: "start one (paperclip-aos engine start) and its workers (paperclip-aos worker --engine URL)" };
    }
  })();
  return { invalid: false, check };
}

async function runDoctor(command: string[], env: NodeJS.ProcessEnv): Promise<{ checks: AdapterEnvironmentCheck[] } | { error: string }> {
  let child;
  try {
    child = spawnGroup(command, ["doctor", "--json"], { env });
  } catch (e) {
    return { error: `could not start ${command[0]}: ${(e as Error).message}` };
  }
  let out = "";
  let errText = "";
  child.proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  lines(child.proc.stderr!, (l) => errText.length < 1000 && (errText += `${l}\n`));
  child.proc.stdin!.end();
  const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), DOCTOR_TIMEOUT_MS);
  try {
    const end = await child.done;
    const report = JSON.parse(out) as { checks?: AdapterEnvironmentCheck[] };
    if (!Array.isArray(report.checks)) return { error: `doctor printed no checks (exit ${end.exitCode})` };
    return { checks: report.checks.map((c) => ({ code: c.code, level: c.level, message: c.message, detail: c.detail ?? null, hint: c.hint ?? null })) };
  } catch (e) {
    return { error: `paperclip-aos doctor failed: ${errText.trim().split("\n")[0] || (e as Error).message}` };
  } finally {
    clearTimeout(timer);
    await reapGroup(child.pid);
  }
}
