/**
 * The gateway holds secrets (the run token, the provider key, anything key-like in the host env). Everything it writes
 * (record file, error messages, lastError) passes through a Redactor first.
 */
const REDACTED = "[REDACTED]";

const SECRET_NAME = /(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/i;
const SECRET_HEADERS = new Set(["authorization", "x-api-key", "api-key", "cookie", "proxy-authorization", "x-goog-api-key"]);

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: Iterable<string | undefined>) {
    const set = new Set<string>();
    for (const s of secrets) {
      // Short values would blank out ordinary words; keys and tokens are long.
      if (s && s.length >= 8) {
        set.add(s);
        const escaped = JSON.stringify(s).slice(1, -1);
        if (escaped !== s) set.add(escaped);
      }
    }
    this.secrets = [...set].sort((a, b) => b.length - a.length);
  }

  /** Values of host env vars whose names look like secrets (…_API_KEY, …_TOKEN, …_SECRET, …). */
  static envSecrets(env: Record<string, string | undefined>): string[] {
    return Object.entries(env)
      .filter(([k, v]) => v && SECRET_NAME.test(k))
      .map(([, v]) => v as string);
  }

  text(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  headers(h: Headers): Record<string, string> {
    const out: Record<string, string> = {};
    h.forEach((value, name) => {
      out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? REDACTED : this.text(value);
    });
    return out;
  }
}
