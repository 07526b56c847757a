import { createHash, randomBytes } from "node:crypto";
import { errorMessage, runtimeError } from "../errors.ts";
import { anthropicDialect } from "./anthropic.ts";
import { openGatewayCore, presentedToken, serveGateway, type Gateway, type GatewayCore, type GatewayOptions } from "./server.ts";

/**
 * Many runs' gateways on one long-lived loopback port (the warm worker's). A spare VM's agent reads its gateway URL
 * and token once, when its session opens, before any run is known (Pi reads models.json only then); so the URL must
 * outlive runs, and the token is what says which run a request belongs to. A token is issued with the spare, bound to
 * a run's script or upstream, meter and recorder when the run takes the spare, and forgotten when the run's gateway
 * closes: before and after, a request with it is refused like one without a token.
 */
export class GatewayHub {
  private readonly runs = new Map<string, GatewayCore>();
  private servers: ReturnType<typeof Bun.serve>[] = [];
  private listening = 0;

  /** The port every gateway of this hub answers on (127.0.0.1, and ::1 where there is one). */
  get port(): number {
    return this.listening;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listening}`;
  }

  /** Runs bound now. */
  get bound(): number {
    return this.runs.size;
  }

  start(): void {
    const handle = (req: Request) => this.route(req);
    let v4: ReturnType<typeof Bun.serve>;
    try {
      v4 = serveGateway("127.0.0.1", 0, handle);
    } catch (e) {
      throw runtimeError(`the model gateway cannot listen on 127.0.0.1: ${errorMessage(e)}`, undefined, "gateway_listen_failed", e);
    }
    this.servers.push(v4);
    this.listening = v4.port as number;
    // Codex's WASM build reaches the gateway on ::1 (see startGateway).
    try {
      this.servers.push(serveGateway("::1", this.listening, handle));
    } catch {
      // no IPv6 loopback: only Codex loses
    }
  }

  /** A fresh token for a spare; it opens nothing until a run's gateway is opened with it. */
  static newToken(): string {
    return `pcgw-${randomBytes(24).toString("hex")}`;
  }

  /** A run's gateway on the hub, answering to `opts.token` (a spare's) or a fresh one, until it is closed. */
  async open(opts: GatewayOptions): Promise<Gateway> {
    const token = opts.token ?? GatewayHub.newToken();
    const key = tokenKey(token);
    if (this.runs.has(key)) throw new Error("gateway hub: this token is bound to another run already");
    const core = await openGatewayCore({ ...opts, token });
    this.runs.set(key, core);
    return core.face(this.listening, async () => {
      if (this.runs.get(key) === core) this.runs.delete(key);
    });
  }

  async close(): Promise<void> {
    this.runs.clear();
    await Promise.all(this.servers.map((s) => s.stop(true)));
    this.servers = [];
  }

  private route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (req.method === "HEAD" && url.pathname === "/") return Promise.resolve(new Response(null, { status: 200 }));
    const token = presentedToken(req);
    // Looked up by the token's hash: a lookup's timing then tells nothing about the token itself.
    const core = token ? this.runs.get(tokenKey(token)) : undefined;
    if (!core) {
      const message = "the model gateway rejected a request without a live run's token";
      return Promise.resolve(Response.json(anthropicDialect.error(401, message), { status: 401, headers: { "x-should-retry": "false" } }));
    }
    return core.handle(req);
  }
}

function tokenKey(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
