import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildRunRequest, type RunRequestInput } from "../../src/heartbeat/index.ts";
import { isSecretLookingEnv, parsePermissionFlags, sidecarWithheldEnv } from "../../src/caps/index.ts";
import { chooseEngine, ENGINE_TOKEN_ENV, engineEnv, engineToken, tokenMatches } from "../../src/rivet/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

/**
 * `run --engine`'s choices made before anything reaches an engine: which engine, and what of this machine's
 * environment may go there (nothing secret). The heartbeats through a real engine are test/rivet/heartbeats.lane.ts.
 */
async function request(fields: Partial<RunRequestInput> = {}) {
  const ws = await tempDir("aos-rc-ws-");
  return buildRunRequest({ prompt: "hi", cwd: ws, ...fields }, {}, {}, ws);
}

describe("run --engine: which engine", () => {
  test("the flag wins over PAPERCLIP_AOS_ENGINE, which wins over the config; 'off' anywhere means local", () => {
    const env = { PAPERCLIP_AOS_ENGINE: "http://10.0.0.5:6420" };
    expect(chooseEngine("http://127.0.0.1:6420/", env, "http://cfg:6420")).toEqual({ url: "http://127.0.0.1:6420", from: "--engine" });
    expect(chooseEngine(undefined, env, "http://cfg:6420")).toEqual({ url: "http://10.0.0.5:6420", from: "PAPERCLIP_AOS_ENGINE" });
    expect(chooseEngine(undefined, {}, "https://cfg.example:6420")?.url).toBe("https://cfg.example:6420");
    expect(chooseEngine("off", env, "http://cfg:6420")).toBeUndefined();
    expect(chooseEngine(undefined, { PAPERCLIP_AOS_ENGINE: "OFF" }, "http://cfg:6420")).toBeUndefined();
    expect(chooseEngine(undefined, {}, undefined)).toBeUndefined();
  });

  test("a value that is no http(s) URL, or one carrying credentials, is exit 2 naming where it came from", () => {
    const fails = (flag: string | undefined, env: Record<string, string>, cfg?: string) => {
      try {
        chooseEngine(flag, env, cfg);
      } catch (e) {
        return e as { exitCode: number; code: string; message: string };
      }
      throw new Error("no error");
    };
    expect(fails("127.0.0.1:6420", {})).toMatchObject({ exitCode: 2, code: "invalid_engine" });
    expect(fails(undefined, { PAPERCLIP_AOS_ENGINE: "ftp://x" }).message).toContain("PAPERCLIP_AOS_ENGINE");
    expect(fails(undefined, {}, "not a url").message).toContain("config");
    const cred = fails("http://admin:hunter2@127.0.0.1:6420", {});
    expect(cred).toMatchObject({ exitCode: 2, code: "invalid_engine" });
    expect(cred.message).not.toContain("hunter2");
  });
});

describe("run --engine: nothing secret goes to the engine", () => {
  const host = { GREETING: "hello", GITHUB_TOKEN: "ghp_secret", ANTHROPIC_API_KEY: "sk-ant-secret", PATH: "/usr/bin" };

  test("only what the policy's env.read passes goes, without provider keys or other secret-looking names", async () => {
    const req = await request();
    const env = await engineEnv(req, parsePermissionFlags(["--allow-env"]), host);
    expect(env).toEqual({ GREETING: "hello" });
    expect(await engineEnv(req, undefined, host)).toEqual({});
  });

  test("a secret-looking name the policy allows exactly, or one in the request's env, is refused (exit 2), not sent", async () => {
    const req = await request();
    const exact = engineEnv(req, parsePermissionFlags(["--allow-env=GITHUB_TOKEN"]), host);
    await expect(exact).rejects.toMatchObject({ exitCode: 2, code: "secret_to_engine" });
    await expect(exact).rejects.toThrow(/GITHUB_TOKEN/);
    await expect(engineEnv(await request({ env: { NPM_TOKEN: "x" } }), undefined, host)).rejects.toMatchObject({ exitCode: 2, code: "secret_to_engine" });
    await expect(engineEnv(await request({ env: { FOO: "bar" } }), undefined, host)).resolves.toEqual({});
  });

  test("a policy that does not compile sends nothing (the actor fails the run with its result, as locally)", async () => {
    const valid = { version: 1, allow: { "env.read": ["GREETING"] } };
    expect(await engineEnv(await request({ capabilities: valid }), undefined, host)).toEqual({ GREETING: "hello" });
    const invalid = { ...valid, allow: { ...valid.allow, "fs.nonsense": ["x"] } };
    expect(await engineEnv(await request({ capabilities: invalid }), undefined, host)).toEqual({});
  });
});

describe("the engine's shared token", () => {
  const token = "0123456789abcdef0123456789abcdef";

  test("read from PAPERCLIP_AOS_ENGINE_TOKEN only; missing or too short is exit 2 with how to make one", () => {
    expect(engineToken({ [ENGINE_TOKEN_ENV]: ` ${token}\n` }, "worker")).toBe(token);
    for (const [env, code] of [[{}, "missing_engine_token"], [{ [ENGINE_TOKEN_ENV]: "  " }, "missing_engine_token"], [{ [ENGINE_TOKEN_ENV]: "hunter2" }, "weak_engine_token"]] as const) {
      let err: unknown;
      try {
        engineToken(env, "worker");
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ exitCode: 2, code, opts: { hint: expect.stringContaining("openssl rand -hex 32") } });
      // The error names the variable, never a value.
      expect(String((err as Error).message)).not.toContain("hunter2");
    }
  });

  test("the actor's check: the same token passes; none, another, a prefix, a longer one or a non-string does not", () => {
    expect(tokenMatches(token, { token })).toBe(true);
    for (const params of [undefined, null, {}, { token: "" }, { token: token.slice(0, -1) }, { token: `${token}0` }, { token: token.toUpperCase() }, { token: 42 }, token]) {
      expect(tokenMatches(token, params)).toBe(false);
    }
  });

  test("its name is secret-looking: a policy's globs never pass it into a VM, and a worker's sidecar is spawned without it", () => {
    expect(isSecretLookingEnv(ENGINE_TOKEN_ENV)).toBe(true);
    const withheld = sidecarWithheldEnv({ [ENGINE_TOKEN_ENV]: token, PATH: "/usr/bin" });
    expect(withheld).toEqual([ENGINE_TOKEN_ENV]);
  });
});

describe("config: engine", () => {
  test("the user file may name the engine; a project file may not (it must not send its runs elsewhere)", async () => {
    const root = await tempDir("aos-rc-cfg-");
    const xdg = join(root, "xdg");
    await mkdir(join(xdg, "paperclip-aos"), { recursive: true });
    await writeFile(join(xdg, "paperclip-aos", "config.json"), JSON.stringify({ engine: "http://127.0.0.1:6420" }));
    const project = join(root, "project");
    await mkdir(project);
    expect(loadConfig({ cwd: project, env: { XDG_CONFIG_HOME: xdg } }).values.engine).toBe("http://127.0.0.1:6420");
    await writeFile(join(project, ".paperclip-aos.json"), JSON.stringify({ engine: "http://evil.example:6420" }));
    expect(() => loadConfig({ cwd: project, env: { XDG_CONFIG_HOME: xdg } })).toThrow(/'engine' may only be set in the user config/);
  });
});
