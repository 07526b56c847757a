/**
 * network.fetch hosts and network.listen ports.
 *
 * network.fetch entry: `*` (any host, any port) · `host` (every port) · `host:port` · `*.example.com` (the domain
 * itself and every subdomain, at any depth: Deno's inclusive rule) · an IPv4 address · `[ipv6]` or `[ipv6]:port` ·
 * an IPv4 CIDR `10.0.0.0/8` (prefix 8..32). Host names are case-insensitive; a trailing dot is dropped. URLs are not
 * hosts (`https://x` is an error, as in Deno). `host:*` is the same as `host`.
 * Specificity (larger wins): [class, depth, has-port] with class any=0 < CIDR=1 < *.domain=2 < exact host/IP=3,
 * depth = CIDR prefix length or the number of labels in the domain.
 *
 * network.listen entry: a port `3000`, a range `8000-8100`, or `*`. A narrower range is more specific.
 */
import { looksLikeUrl, type Parsed } from "./vocabulary.ts";

export type HostPattern =
  | { kind: "any" }
  | { kind: "name"; name: string }
  | { kind: "suffix"; domain: string }
  | { kind: "cidr"; base: number; bits: number };

export interface PortRange {
  lo: number;
  hi: number;
}

export interface NetPattern {
  host: HostPattern;
  /** Undefined: every port. */
  ports?: PortRange;
}

export interface FetchTarget {
  host: string;
  port?: number;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;

function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

const isIPv6 = (s: string) => s.includes(":") && /^[0-9a-f:.]+$/i.test(s);

function normalizeHostName(h: string): string {
  return h.toLowerCase().replace(/\.$/, "");
}

function parsePortNumber(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** Split `host[:port]`, `[v6][:port]`, bare v6. */
function splitHostPort(raw: string): Parsed<{ host: string; port?: string }> {
  if (raw.startsWith("[")) {
    const end = raw.indexOf("]");
    if (end === -1) return { ok: false, message: `missing ']' in '${raw}'`, hint: "write an IPv6 address as [::1] or [::1]:8080" };
    const host = raw.slice(1, end).toLowerCase();
    const rest = raw.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) return { ok: false, message: `unexpected '${rest}' after ']'` };
    if (!isIPv6(host)) return { ok: false, message: `'${host}' is not an IPv6 address` };
    return { ok: true, value: { host: `[${host}]`, port: rest ? rest.slice(1) : undefined }, notes: [] };
  }
  const colons = raw.split(":").length - 1;
  if (colons > 1) {
    if (isIPv6(raw)) return { ok: true, value: { host: `[${raw.toLowerCase()}]` }, notes: [] };
    return { ok: false, message: `'${raw}' is not a host or host:port`, hint: "IPv6 with a port needs square brackets: [::1]:8080" };
  }
  if (colons === 1) {
    const i = raw.lastIndexOf(":");
    return { ok: true, value: { host: raw.slice(0, i), port: raw.slice(i + 1) }, notes: [] };
  }
  return { ok: true, value: { host: raw }, notes: [] };
}

export function parseNetPattern(raw: string): Parsed<NetPattern> {
  const notes: string[] = [];
  if (raw === "") return { ok: false, message: "empty host", hint: "write host, host:port, *.domain, an IP or CIDR, or * for all" };
  if (looksLikeUrl(raw)) {
    const u = URL.canParse(raw) ? new URL(raw) : undefined;
    return {
      ok: false,
      message: `'${raw}' is a URL; network rules name hosts`,
      hint: u ? `write ${u.host}${u.port ? "" : u.protocol === "https:" ? ":443" : u.protocol === "http:" ? ":80" : ""}` : "write host or host:port",
    };
  }
  if (raw === "*") return { ok: true, value: { host: { kind: "any" } }, notes };
  if (raw.includes("/")) {
    const [ip, bitsS, ...more] = raw.split("/");
    const base = parseIPv4(ip!);
    const bits = /^\d{1,2}$/.test(bitsS ?? "") ? Number(bitsS) : NaN;
    if (more.length || base === undefined || !(bits >= 0 && bits <= 32)) {
      return { ok: false, message: `'${raw}' is not an IPv4 CIDR`, hint: "write e.g. 10.0.0.0/8 (IPv6 ranges are not supported)" };
    }
    if (bits < 8) return { ok: false, message: `CIDR /${bits} is too wide`, hint: "use * for every host, or a prefix of at least /8" };
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((base & mask) >>> 0 !== base) notes.push(`${raw} has host bits set; it means ${ipv4String((base & mask) >>> 0)}/${bits}`);
    return { ok: true, value: { host: { kind: "cidr", base: (base & mask) >>> 0, bits } }, notes };
  }
  const hp = splitHostPort(raw);
  if (!hp.ok) return hp;
  let ports: PortRange | undefined;
  if (hp.value.port !== undefined && hp.value.port !== "*") {
    const p = parsePortNumber(hp.value.port);
    if (p === undefined) return { ok: false, message: `'${hp.value.port}' is not a port (1-65535)`, hint: "write host:443, or host alone for every port" };
    ports = { lo: p, hi: p };
  }
  let host = hp.value.host;
  if (host.startsWith("[")) return { ok: true, value: { host: { kind: "name", name: host }, ports }, notes };
  host = normalizeHostName(host);
  if (host === "*") return { ok: true, value: { host: { kind: "any" }, ports }, notes };
  if (host.startsWith("*.")) {
    const domain = host.slice(2);
    if (!domain.split(".").every((l) => LABEL.test(l))) return { ok: false, message: `'${raw}' is not a valid wildcard domain`, hint: "write *.example.com" };
    return { ok: true, value: { host: { kind: "suffix", domain }, ports }, notes };
  }
  if (host.includes("*")) return { ok: false, message: `'${raw}': '*' is only allowed as the first label (*.example.com)` };
  if (/^[\d.]+$/.test(host) && parseIPv4(host) === undefined) return { ok: false, message: `'${host}' is not a valid IPv4 address` };
  if (!host.split(".").every((l) => LABEL.test(l))) return { ok: false, message: `'${raw}' is not a valid host name` };
  return { ok: true, value: { host: { kind: "name", name: host }, ports }, notes };
}

export function ipv4String(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A target being asked about: `host:port`, `host`, `[v6]:port`, or a URL (default ports 80/443). */
export function parseFetchTarget(raw: string): Parsed<FetchTarget> {
  if (looksLikeUrl(raw)) {
    if (!URL.canParse(raw)) return { ok: false, message: `'${raw}' is not a valid URL` };
    const u = new URL(raw);
    const def = { "http:": 80, "https:": 443, "ws:": 80, "wss:": 443 }[u.protocol];
    const port = u.port ? Number(u.port) : def;
    return { ok: true, value: { host: normalizeHostName(u.hostname), port }, notes: [] };
  }
  const hp = splitHostPort(raw);
  if (!hp.ok) return hp;
  let port: number | undefined;
  if (hp.value.port !== undefined) {
    port = parsePortNumber(hp.value.port);
    if (port === undefined) return { ok: false, message: `'${hp.value.port}' is not a port (1-65535)` };
  }
  const host = hp.value.host.startsWith("[") ? hp.value.host : normalizeHostName(hp.value.host);
  if (host === "" || host.includes("*")) return { ok: false, message: `'${raw}' is not a host`, hint: "ask about one host, e.g. example.com:443" };
  return { ok: true, value: { host, port }, notes: [] };
}

function hostMatches(p: HostPattern, host: string): boolean {
  switch (p.kind) {
    case "any":
      return true;
    case "name":
      return p.name === host;
    case "suffix":
      return host === p.domain || host.endsWith(`.${p.domain}`);
    case "cidr": {
      const ip = parseIPv4(host);
      if (ip === undefined) return false;
      const mask = (0xffffffff << (32 - p.bits)) >>> 0;
      return (ip & mask) >>> 0 === p.base;
    }
  }
}

/** A target without a port stands for "every port": only rules without a port decide it. */
export function netMatches(p: NetPattern, t: FetchTarget): boolean {
  if (!hostMatches(p.host, t.host)) return false;
  if (!p.ports) return true;
  return t.port !== undefined && t.port >= p.ports.lo && t.port <= p.ports.hi;
}

export function netSpecificity(p: NetPattern): number[] {
  const hasPort = p.ports ? 1 : 0;
  switch (p.host.kind) {
    case "any":
      return [0, 0, hasPort];
    case "cidr":
      return [1, p.host.bits, hasPort];
    case "suffix":
      return [2, p.host.domain.split(".").length, hasPort];
    case "name":
      return [3, 0, hasPort];
  }
}

const LOOPBACK_NAMES = ["localhost", "[::1]"];
export function isLoopbackHost(host: string): boolean {
  if (LOOPBACK_NAMES.includes(host)) return true;
  const ip = parseIPv4(host);
  return ip !== undefined && ip >>> 24 === 127;
}

export function parseListenPorts(raw: string | number): Parsed<PortRange> {
  const s = String(raw).trim();
  if (s === "*") return { ok: true, value: { lo: 0, hi: 65535 }, notes: [] };
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) return { ok: false, message: `'${s}' is not a port or port range`, hint: "write 3000, 8000-8100 or *" };
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535) return { ok: false, message: `port ${Math.max(lo, hi)} is above 65535` };
  if (lo > hi) return { ok: false, message: `range ${s} is backwards`, hint: `write ${hi}-${lo}` };
  return { ok: true, value: { lo, hi }, notes: lo < 1024 && lo > 0 ? [`port ${lo} is privileged; agentOS may refuse to listen below 1024`] : [] };
}

export function portSpecificity(r: PortRange): number[] {
  return [-(r.hi - r.lo)];
}

/**
 * Port globs for a range: agentOS patterns have no numeric ranges, but `?` is one character, so 8000-8099 is `80??`.
 * Greedy decimal blocks: at most a few dozen globs for any range.
 */
function portGlobs(r: PortRange): string[] {
  if (r.lo === 0 && r.hi === 65535) return ["*"];
  const out: string[] = [];
  let lo = r.lo;
  while (lo <= r.hi) {
    const len = String(lo).length;
    const lenMax = 10 ** len - 1;
    const top = Math.min(r.hi, lenMax);
    let k = 0;
    while (k < len - 1 && lo % 10 ** (k + 1) === 0 && lo + 10 ** (k + 1) - 1 <= top) k++;
    // lo === 0 with len 1 can take the whole digit too.
    if (len === 1 && lo === 0 && top >= 9) k = 1;
    const prefix = k >= len ? "" : String(lo).slice(0, len - k);
    out.push(prefix + "?".repeat(k));
    lo += 10 ** k;
  }
  return out;
}

function hostForms(host: HostPattern): string[] {
  switch (host.kind) {
    case "any":
      return ["*"];
    case "name":
      return host.name.startsWith("[") ? [host.name, host.name.slice(1, -1)] : [host.name];
    case "suffix":
      return [`*.${host.domain}`, host.domain];
    case "cidr": {
      const full = Math.floor(host.bits / 8);
      const rest = host.bits % 8;
      const octets = ipv4String(host.base).split(".");
      if (full === 4) return [octets.join(".")];
      const fixed = octets.slice(0, full);
      const tail = Array(4 - full - (rest ? 1 : 0)).fill("*");
      if (!rest) return [[...fixed, ...tail].join(".")];
      const first = Number(octets[full]);
      const count = 2 ** (8 - rest);
      return Array.from({ length: count }, (_, i) => [...fixed, String(first + i), ...tail].join("."));
    }
  }
}

/** agentOS resources a fetch rule covers: `tcp://host:port` for the connection, `dns://host` for the lookup. */
export function fetchResourcePatterns(p: NetPattern, opts: { withDns: boolean }): string[] {
  if (p.host.kind === "any" && !p.ports) return ["**"];
  const ports = p.ports ? portGlobs(p.ports) : ["*"];
  const forms = hostForms(p.host);
  const tcp = forms.flatMap((h) => ports.map((port) => `tcp://${h}:${port}`));
  const dns = opts.withDns && p.host.kind !== "cidr" ? forms.map((h) => `dns://${h}`) : [];
  return [...tcp, ...dns];
}

/** agentOS resources a listen rule covers: any bind address, these ports. */
export function listenResourcePatterns(r: PortRange): string[] {
  return portGlobs(r).map((g) => `tcp://*:${g}`);
}
