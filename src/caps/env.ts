/**
 * env.read is enforced on the host: the guest environment is built from the allowed names only, because agentOS's
 * own env scope does not hide variables passed to exec or sessions (docs/agentos.md, "Permissions"). This file is the one
 * home of the rules that keep host variables out of the guest even where a rule allows them:
 *
 * 1. VM-owned names (HOME, PATH, ..., and agentOS's own AGENTOS_*): the VM sets them; a host value would break the
 *    guest or steer the runtime. Never passed.
 * 2. Gateway names (provider keys and base URLs, our own PAPERCLIP_AOS_* settings): when a model gateway serves the
 *    VM (`run`), the keys stay with the gateway. Never passed, whatever the policy (an exact rule included).
 * 3. Secret-looking names (SECRET_ENV below: ...KEY, ...TOKEN, ...SECRET, ...PASSWORD, cloud credentials, ...) and,
 *    outside a run, the gateway names: the env counterpart of the mandatory file denies. `--allow-env` (all) and globs (`GITHUB_*`) leave them out; only a
 *    rule naming the variable exactly (`--allow-env=GITHUB_TOKEN`) passes it.
 * 4. Secret-looking values (SECRET_VALUES below: a URL with a password, a private key, a token of a well-known
 *    format) under any name: as 3, `--allow-env` (all) and globs leave them out; where an exact rule passes one whose
 *    name does not look like a secret (`--allow-env=REDIS_URL`, redis://user:pass@host), secretValueWarning names
 *    the variable, never its value (exec and run print it on stderr, caps check and caps explain report it).
 *
 * The same names are also kept out of the sidecar's own environment (runtime/vm.ts spawns it without them), so a
 * guest that reads /proc/<sidecar>/environ through some hole still finds nothing.
 */

/** Variables the VM sets itself (HOME=/home/agentos, PATH=/opt/agentos/bin:...); a host value would break the guest. */
export const VM_OWNED_ENV = ["HOME", "USER", "LOGNAME", "PATH", "PWD", "OLDPWD", "SHELL", "SHLVL", "HOSTNAME", "_", "TMPDIR"];

/**
 * The model gateway's variables: what src/gateway reads (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, OPENAI_API_KEY,
 * OPENAI_BASE_URL, ...), the other providers' keys an agent CLI would pick up on its own, and our own settings.
 */
export const GATEWAY_ENV_PREFIXES = [
  "ANTHROPIC_",
  "OPENAI_",
  "AZURE_OPENAI_",
  "OPENROUTER_",
  "GEMINI_",
  "GOOGLE_GENERATIVE_AI_",
  "MISTRAL_",
  "GROQ_",
  "XAI_",
  "DEEPSEEK_",
  "CLAUDE_",
  "CODEX_",
  "PAPERCLIP_AOS_",
] as const;

/**
 * Secret-looking names, documented in the README (Capabilities, env.read):
 * - a name with one of these words as an `_`-separated part (any case): KEY, KEYS, APIKEY, TOKEN, TOKENS, SECRET,
 *   SECRETS, PASSWORD, PASSWORDS, PASSWD, PASS, PASSPHRASE, PWD, CREDENTIAL, CREDENTIALS, CREDS, AUTH, COOKIE,
 *   PRIVATE, DSN, SESSION, JWT, PAT, BEARER (MYSQL_PWD, AWS_ACCESS_KEY_ID, GH_TOKEN, NPM_CONFIG__AUTH, SENTRY_DSN);
 * - a part that ends in TOKEN(S), SECRET(S), PASSWORD(S), PASSWD or APIKEY, since many such names are one word
 *   (PGPASSWORD, npm's `npm_config__authToken`, CLIENTSECRET): these passed `--allow-env` before (measured);
 * - a cloud or secret-store prefix: AWS_, AZURE_, GOOGLE_, GCLOUD_, GCP_, CLOUDSDK_, VAULT_, ARM_, DIGITALOCEAN_;
 * - these names: DATABASE_URL, KUBECONFIG, NETRC, PGPASSFILE, DOCKER_CONFIG, GIT_ASKPASS, SSH_ASKPASS, SSHPASS.
 */
export const SECRET_ENV = {
  words: ["KEY", "KEYS", "APIKEY", "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "PASS", "PASSPHRASE", "PWD", "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "COOKIE", "PRIVATE", "DSN", "SESSION", "JWT", "PAT", "BEARER"],
  suffixes: ["TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "APIKEY"],
  prefixes: ["AWS_", "AZURE_", "GOOGLE_", "GCLOUD_", "GCP_", "CLOUDSDK_", "VAULT_", "ARM_", "DIGITALOCEAN_"],
  names: ["DATABASE_URL", "KUBECONFIG", "NETRC", "PGPASSFILE", "DOCKER_CONFIG", "GIT_ASKPASS", "SSH_ASKPASS", "SSHPASS"],
} as const;

const SECRET_WORDS = new Set<string>(SECRET_ENV.words);

/**
 * Values that look like a secret whatever their variable's name, documented in the README (Capabilities, env.read):
 * what each is, and its pattern. A match anywhere in the value counts (a list of URLs, a key inside a JSON blob).
 */
export const SECRET_VALUES: readonly { what: string; re: RegExp }[] = [
  // scheme://user:password@host, also scheme://:password@host (redis://:pass@host); not scheme://user@host.
  { what: "a URL with a password", re: /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:]*:[^\s/?#@]+@/ },
  { what: "a private key", re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
  { what: "a GitHub token", re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/ },
  { what: "a GitLab token", re: /\bglpat-[A-Za-z0-9_-]{20,}/ },
  { what: "a Slack token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
  { what: "an AWS access key id", re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { what: "an API key (sk-...)", re: /\bsk-[A-Za-z0-9_-]{20,}/ },
  { what: "an npm token", re: /\bnpm_[A-Za-z0-9]{36}\b/ },
  { what: "a JSON Web Token", re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
];

/** What a variable's value looks like when it looks like a secret (never the value itself), else undefined. */
export function secretLookingValue(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return SECRET_VALUES.find((p) => p.re.test(value))?.what;
}

/**
 * The warning for a variable an exact rule passes into the VM although its value looks like a secret: the name and
 * what the value looks like, never the value. Undefined when there is nothing to say (the value looks like nothing,
 * or the name itself looks like a secret: a rule naming GITHUB_TOKEN exactly means it).
 */
export function secretValueWarning(name: string, value: string | undefined): { path: string; message: string; hint: string } | undefined {
  const what = secretLookingValue(value);
  if (!what || isSecretLookingEnv(name) || isGatewayEnv(name) || isVmOwnedEnv(name)) return undefined;
  return {
    path: `env.read ${name}`,
    message: `${name} enters the VM and its value looks like a secret (${what}): a rule names it exactly, so it is passed`,
    hint: `drop the rule naming ${name} if the agent should not have it`,
  };
}

/** agentOS's own variables (AGENTOS_GUEST_PATH_MAPPINGS, AGENTOS_ALLOW_PROCESS_BINDINGS, ...): the runtime sets them per guest process. */
export const VM_OWNED_ENV_PREFIX = "AGENTOS_";

export function isVmOwnedEnv(name: string): boolean {
  return VM_OWNED_ENV.includes(name) || name.startsWith(VM_OWNED_ENV_PREFIX);
}

export function isGatewayEnv(name: string): boolean {
  return GATEWAY_ENV_PREFIXES.some((p) => name.startsWith(p));
}

export function isSecretLookingEnv(name: string): boolean {
  if ((SECRET_ENV.names as readonly string[]).includes(name)) return true;
  const upper = name.toUpperCase();
  if (SECRET_ENV.prefixes.some((p) => upper.startsWith(p))) return true;
  return upper.split("_").some((part) => SECRET_WORDS.has(part) || SECRET_ENV.suffixes.some((w) => part.endsWith(w)));
}

export interface EnvShield {
  /** vm: the VM's own; gateway: a provider key or gateway setting in a run; secret: secret-looking, needs an exact rule. */
  kind: "vm" | "gateway" | "secret";
  reason: string;
}

export interface EnvShieldContext {
  /** A model gateway serves this VM (run): its variables stay on the host whatever the policy. */
  gateway?: boolean;
}

/**
 * Why a host variable stays out of the guest although the policy may allow it; undefined when only the policy
 * decides. `exactAllow`: the deciding rule is an allow naming this variable exactly. `value`: its host value, when
 * known (a secret-looking value needs an exact rule, as a secret-looking name does).
 */
export function envShield(name: string, exactAllow: boolean, ctx: EnvShieldContext = {}, value?: string): EnvShield | undefined {
  if (isVmOwnedEnv(name)) {
    const what = name.startsWith(VM_OWNED_ENV_PREFIX) ? "is agentOS's own (the runtime sets AGENTOS_* per guest process)" : "is set by the VM itself (HOME=/home/agentos, PATH=/opt/agentos/bin:...)";
    return { kind: "vm", reason: `${name} ${what}; the host's value is never passed in` };
  }
  if (ctx.gateway && isGatewayEnv(name)) {
    return { kind: "gateway", reason: `${name} belongs to the model gateway (provider keys and settings stay on the host in a run, whatever the policy)` };
  }
  if (!exactAllow && (isSecretLookingEnv(name) || isGatewayEnv(name))) {
    const what = isSecretLookingEnv(name) ? "looks like a secret" : "is a model provider's or paperclip-aos's setting";
    return { kind: "secret", reason: `${name} ${what}: --allow-env and globs leave it out; only a rule naming it exactly (--allow-env=${name}) passes it` };
  }
  const looks = exactAllow ? undefined : secretLookingValue(value);
  if (looks) {
    return { kind: "secret", reason: `${name}'s value looks like a secret (${looks}): --allow-env and globs leave it out; only a rule naming it exactly (--allow-env=${name}) passes it` };
  }
  return undefined;
}

/** The environment without the gateway's variables (a run's request env and the sidecar's spawn env go through this). */
export function withoutGatewayEnv<T extends string | undefined>(env: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !isGatewayEnv(k)));
}

/** Names to drop from the sidecar's spawn environment: the gateway's and every secret-looking one (it needs none). */
export function sidecarWithheldEnv(env: Record<string, string | undefined>): string[] {
  return Object.keys(env).filter((k) => !k.startsWith("AGENTOS_") && !k.startsWith("PAPERCLIP_AOS_SIDECAR") && !k.startsWith("PAPERCLIP_AOS_REAL") && (isGatewayEnv(k) || isSecretLookingEnv(k)));
}
