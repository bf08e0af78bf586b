/**
 * Test-controlled misbehaviour: injected HTTP errors, dropped create
 * responses, and per-route request counts.
 */
import type { CreateDropMode } from "./api.ts";

export interface InjectErrorOptions {
  /** Only this HTTP method (any when absent). */
  method?: string;
  /** Regular-expression source matched against the URL pathname. */
  path: string;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  headers?: Record<string, string>;
  /** JSON body; a GitHub-like body for the status when absent. */
  body?: unknown;
  /** A body sent verbatim (not JSON-encoded): truncated or malformed JSON, say. Wins over `body`. */
  rawBody?: string;
  /** Destroy the connection instead of answering. */
  reset?: boolean;
  /** Wait this long before answering (or resetting): longer than the client's timeout, it is an API that never answers. */
  delayMs?: number;
}

interface Rule {
  method?: string;
  re: RegExp;
  status: number;
  remaining: number;
  headers: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  reset: boolean;
  delayMs: number;
}

const DEFAULT_MESSAGES: Record<number, string> = {
  400: "Bad Request",
  401: "Bad credentials",
  403: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
  404: "Not Found",
  409: "Conflict",
  422: "Validation Failed",
  429: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
  500: "Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export function defaultErrorBody(status: number): Record<string, unknown> {
  return {
    message: DEFAULT_MESSAGES[status] ?? `HTTP ${status}`,
    documentation_url: "https://docs.github.com/rest",
    status: String(status),
  };
}

export class Faults {
  private rules: Rule[] = [];
  private createDrops: CreateDropMode[] = [];
  private readonly routeCounts = new Map<string, number>();

  inject(o: InjectErrorOptions): void {
    if (typeof o.path !== "string") throw new Error("injectError: path (regex source) is required");
    if (!Number.isInteger(o.status)) throw new Error("injectError: status must be an integer");
    this.rules.push({
      method: o.method?.toUpperCase(),
      re: new RegExp(o.path),
      status: o.status,
      remaining: o.times ?? 1,
      headers: { ...(o.headers ?? {}) },
      body: o.body,
      rawBody: o.rawBody,
      reset: o.reset ?? false,
      delayMs: o.delayMs ?? 0,
    });
  }

  clear(): void {
    this.rules = [];
    this.createDrops = [];
  }

  /** The first live rule matching this request, consumed once. */
  take(method: string, pathname: string): Omit<Rule, "remaining" | "re" | "method"> | null {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.method && r.method !== method) continue;
      if (!r.re.test(pathname)) continue;
      r.remaining -= 1;
      this.rules = this.rules.filter((x) => x.remaining > 0);
      return { status: r.status, headers: r.headers, body: r.body, rawBody: r.rawBody, reset: r.reset, delayMs: r.delayMs };
    }
    return null;
  }

  /** Extra codespaces (same display name) the next dropped create makes: for ambiguous-recovery tests. */
  createDuplicates = 0;

  dropNextCreate(mode: CreateDropMode, opts: { duplicates?: number } = {}): void {
    if (!["reset", "500", "timeout"].includes(mode)) throw new Error(`dropNextCreate: unknown mode ${mode}`);
    this.createDrops.push(mode);
    this.createDuplicates = opts.duplicates ?? 0;
  }

  takeCreateDrop(): CreateDropMode | null {
    return this.createDrops.shift() ?? null;
  }

  count(key: string): void {
    this.routeCounts.set(key, (this.routeCounts.get(key) ?? 0) + 1);
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.routeCounts);
  }

  resetCounts(): void {
    this.routeCounts.clear();
  }

  /** Start and end of every API request ("GET /user"), and each stand-in call ("gh/config <name>"), in order. */
  private log: RequestEvent[] = [];
  private holds: Hold[] = [];

  record(event: string, phase: RequestEvent["phase"]): void {
    this.log.push({ event, phase });
    if (phase !== "start") return;
    for (const h of this.holds) {
      if (!h.satisfied && h.until.test(event)) {
        h.satisfied = true;
        for (const w of h.waiters.splice(0)) w();
      }
    }
  }

  /** Wait while a hold matches the event and what it waits for has not started yet (at most its timeout). */
  async hold(event: string): Promise<void> {
    for (const h of this.holds) {
      if (h.satisfied || !h.path.test(event)) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, h.timeoutMs);
        h.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  holdUntil(o: HoldOptions): void {
    this.holds.push({ path: new RegExp(o.path), until: new RegExp(o.until), timeoutMs: o.timeoutMs ?? 3000, satisfied: false, waiters: [] });
  }

  clearHolds(): void {
    for (const h of this.holds) for (const w of h.waiters.splice(0)) w();
    this.holds = [];
  }

  events(): RequestEvent[] {
    return [...this.log];
  }

  resetEvents(): void {
    this.log = [];
  }
}

export interface RequestEvent {
  /** "GET /user" (method and raw path), or "gh/config <name>" / "gh/stdio <name>" for the stand-in's calls. */
  event: string;
  phase: "start" | "end";
}

export interface HoldOptions {
  /** Regular-expression source matched against the event ("GET /repos/o/r/codespaces/new"). */
  path: string;
  /** Answer the held requests once an event matching this starts. */
  until: string;
  /** Answer anyway after this long (default 3000 ms): a client that never sends `until` is slowed, not hung. */
  timeoutMs?: number;
}

interface Hold {
  path: RegExp;
  until: RegExp;
  timeoutMs: number;
  satisfied: boolean;
  waiters: (() => void)[];
}
