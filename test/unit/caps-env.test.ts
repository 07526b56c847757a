import { describe, expect, test } from "bun:test";
import { compilePolicy, evaluate, isSecretLookingEnv, resolvePolicy, sidecarWithheldEnv, withoutGatewayEnv } from "../../src/caps/index.ts";

const policy = (envRules: string[], deny: string[] = []) => resolvePolicy({ json: { version: 1, allow: { "env.read": envRules }, deny: { "env.read": deny } } });
const hostEnv = {
  CI: "1",
  LANG_X: "en",
  GITHUB_TOKEN: "ghp_value",
  NPM_TOKEN: "npm_value",
  AWS_REGION: "eu-west-1",
  AWS_SECRET_ACCESS_KEY: "aws_value",
  GOOGLE_APPLICATION_CREDENTIALS: "/k.json",
  MYSQL_PWD: "pw",
  DB_PASSWORD: "pw2",
  DATABASE_URL: "postgres://u:p@h/db",
  OPENAI_API_KEY: "sk-openai",
  OPENAI_BASE_URL: "http://upstream",
  ANTHROPIC_API_KEY: "sk-ant",
  PAPERCLIP_AOS_MODEL: "anthropic/x",
  TMPDIR: "/host/tmp",
};

describe("env.read: secret-looking names need an exact rule (caps/env.ts)", () => {
  test("the documented patterns: words, cloud prefixes, names; ordinary names are not secrets", () => {
    for (const n of ["GITHUB_TOKEN", "GH_TOKEN", "NPM_TOKEN", "OPENAI_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "MYSQL_PWD", "DB_PASSWORD", "SMTP_PASSWD", "CLIENT_SECRET", "DATABASE_URL", "KUBECONFIG", "npm_config__auth", "SENTRY_DSN", "AZURE_CLIENT_ID", "VAULT_ADDR", "PGPASSWORD", "npm_config__authToken", "CLIENTSECRET", "GITHUB_PAT", "CI_JOB_JWT", "SSHPASS"]) {
      expect([n, isSecretLookingEnv(n)]).toEqual([n, true]);
    }
    for (const n of ["CI", "LANG", "NODE_ENV", "KEYBOARD_LAYOUT", "MONKEY", "TERM", "EDITOR", "PAPERCLIP_RUN_ID"]) expect([n, isSecretLookingEnv(n)]).toEqual([n, false]);
  });

  test("--allow-env (all) and globs leave secret-looking names out; an exact rule passes one (exec)", () => {
    expect(compilePolicy(policy(["*"]), { hostAddresses: [], hostEnv }).guestEnv).toEqual({ CI: "1", LANG_X: "en" });
    expect(Object.keys(compilePolicy(policy(["GITHUB_*", "AWS_*", "DB_*"]), { hostAddresses: [], hostEnv }).guestEnv)).toEqual([]);
    const exact = compilePolicy(policy(["*", "GITHUB_TOKEN", "OPENAI_API_KEY"]), { hostAddresses: [], hostEnv });
    expect(exact.guestEnv).toEqual({ CI: "1", LANG_X: "en", GITHUB_TOKEN: "ghp_value", OPENAI_API_KEY: "sk-openai" });
    expect(exact.withheldEnv.find((w) => w.name === "NPM_TOKEN")).toMatchObject({ kind: "secret" });
    expect(exact.withheldEnv.find((w) => w.name === "TMPDIR")).toMatchObject({ kind: "vm" });
    // agentOS's own variables are the runtime's, even named exactly.
    const agentos = compilePolicy(policy(["*", "AGENTOS_ALLOW_PROCESS_BINDINGS"]), { hostAddresses: [], hostEnv: { AGENTOS_ALLOW_PROCESS_BINDINGS: "1", AGENTOS_LOG_LEVEL: "x" } });
    expect(agentos.guestEnv).toEqual({});
    expect(agentos.withheldEnv.map((w) => w.kind)).toEqual(["vm", "vm"]);
  });

  test("in a run (a gateway serves the VM) provider keys and gateway settings never pass, even named exactly", () => {
    const c = compilePolicy(policy(["*", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "PAPERCLIP_AOS_MODEL", "GITHUB_TOKEN"]), { hostAddresses: [], hostEnv, gatewayPort: 4100 });
    expect(c.guestEnv).toEqual({ CI: "1", LANG_X: "en", GITHUB_TOKEN: "ghp_value" });
    expect(c.withheldEnv.filter((w) => w.kind === "gateway").map((w) => w.name).sort()).toEqual(["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "PAPERCLIP_AOS_MODEL"]);
    expect(withoutGatewayEnv({ OPENAI_API_KEY: "k", ANTHROPIC_BASE_URL: "u", PAPERCLIP_API_KEY: "paperclip", X: "1" })).toEqual({ PAPERCLIP_API_KEY: "paperclip", X: "1" });
  });

  test("evaluate agrees with the compiled environment, with the reason", () => {
    const p = policy(["*", "GITHUB_TOKEN"]);
    const names = Object.keys(hostEnv);
    for (const gateway of [undefined, 4100]) {
      const env = compilePolicy(p, { hostAddresses: [], hostEnv, gatewayPort: gateway }).guestEnv;
      for (const n of names) {
        const d = evaluate(p, { kind: "env", target: n }, { hostAddresses: [], gatewayPort: gateway });
        expect([n, gateway, d.decision]).toEqual([n, gateway, n in env ? "allow" : "deny"]);
      }
    }
    expect(evaluate(p, { kind: "env", target: "NPM_TOKEN" }, { hostAddresses: [] })).toMatchObject({ decision: "deny", layer: "mandatory" });
    expect(evaluate(p, { kind: "env", target: "NPM_TOKEN" }, { hostAddresses: [] }).reason).toContain("--allow-env=NPM_TOKEN");
    expect(evaluate(p, { kind: "env", target: "OPENAI_API_KEY" }, { hostAddresses: [], gatewayPort: 1 }).reason).toContain("model gateway");
  });

  test("the sidecar's spawn drops the gateway's and secret-looking names but keeps what it needs", () => {
    const dropped = sidecarWithheldEnv({ ...hostEnv, PATH: "/bin", HOME: "/root", AGENTOS_LOG_LEVEL: "error", PAPERCLIP_AOS_REAL_SIDECAR: "/x", PAPERCLIP_AOS_SIDECAR_LOG: "/l" });
    expect(dropped.sort()).toEqual(["ANTHROPIC_API_KEY", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "DB_PASSWORD", "GITHUB_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "MYSQL_PWD", "NPM_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL", "PAPERCLIP_AOS_MODEL"]);
  });
});

describe("env.read: secret-looking values (caps/env.ts SECRET_VALUES)", () => {
  test("what each documented kind looks like; ordinary URLs and values are not secrets", async () => {
    const { secretLookingValue } = await import("../../src/caps/index.ts");
    const kinds: [string, string][] = [
      ["redis://user:s3cret@cache:6379/0", "a URL with a password"],
      ["redis://:s3cret@cache:6379", "a URL with a password"],
      ["amqp://guest:guest@mq,amqp://b:c@mq2", "a URL with a password"],
      ["-----BEGIN OPENSSH PRIVATE KEY-----\nabc", "a private key"],
      ["ghp_" + "a".repeat(36), "a GitHub token"],
      ["github_pat_" + "A1_".repeat(20), "a GitHub token"],
      ["glpat-" + "x".repeat(20), "a GitLab token"],
      ["xoxb-1234567890-abcdef", "a Slack token"],
      ["AKIAIOSFODNN7EXAMPLE", "an AWS access key id"],
      ["sk-ant-api03-" + "b".repeat(30), "an API key (sk-...)"],
      ["npm_" + "c".repeat(36), "an npm token"],
      ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "a JSON Web Token"],
    ];
    for (const [value, what] of kinds) expect([value, secretLookingValue(value)]).toEqual([value, what]);
    for (const value of ["redis://cache:6379", "http://user@proxy:3128", "https://example.com/a?b=c:d@e", "postgres://db/app", "1", "en_US.UTF-8", "/usr/bin", "sk-short", "", undefined]) {
      expect([value, secretLookingValue(value)]).toEqual([value, undefined]);
    }
  });

  test("--allow-env (all) and globs leave a secret-looking value out; an exact rule passes it with a warning naming it, not its value", () => {
    const env = { CI: "1", REDIS_URL: "redis://user:s3cret-pass@cache:6379", REDIS_HOST: "cache" };
    for (const rules of [["*"], ["REDIS_*"]]) {
      const c = compilePolicy(policy(rules), { hostAddresses: [], hostEnv: env });
      expect(Object.keys(c.guestEnv).sort()).toEqual(rules[0] === "*" ? ["CI", "REDIS_HOST"] : ["REDIS_HOST"]);
      expect(c.withheldEnv).toEqual([{ name: "REDIS_URL", kind: "secret", reason: expect.stringContaining("REDIS_URL's value looks like a secret (a URL with a password)") }]);
      expect(c.warnings.filter((w) => w.source === "environment")).toEqual([]);
    }
    const exact = compilePolicy(policy(["REDIS_URL"]), { hostAddresses: [], hostEnv: env });
    expect(exact.guestEnv).toEqual({ REDIS_URL: env.REDIS_URL });
    const warned = exact.warnings.filter((w) => w.source === "environment");
    expect(warned).toHaveLength(1);
    expect(warned[0]!.message).toStartWith("REDIS_URL enters the VM and its value looks like a secret (a URL with a password)");
    expect(JSON.stringify(exact.warnings)).not.toContain("s3cret-pass");
    // A name that looks like a secret, named exactly, was meant: no warning.
    const meant = compilePolicy(policy(["GITHUB_TOKEN"]), { hostAddresses: [], hostEnv: { GITHUB_TOKEN: "ghp_" + "a".repeat(36) } });
    expect(Object.keys(meant.guestEnv)).toEqual(["GITHUB_TOKEN"]);
    expect(meant.warnings.filter((w) => w.source === "environment")).toEqual([]);
  });
});
