/**
 * The shapes of every `--json` document, as valibot schemas. The code's
 * output types are inferred from them (so the code cannot drift from them),
 * `scripts/gen-json-schemas.ts` turns them into docs/schemas/*.schema.json,
 * and the e2e tests validate the binary's real output against them.
 */
import * as v from "valibot";

const isoTime = v.pipe(v.string(), v.description("ISO 8601 UTC time"));
const ms = v.pipe(v.number(), v.description("milliseconds"));

export const GitStatusView = v.strictObject({
  ahead: v.number(),
  behind: v.number(),
  hasUncommittedChanges: v.boolean(),
  hasUnpushedChanges: v.boolean(),
  ref: v.nullable(v.string()),
});

export const LiveView = v.strictObject({
  state: v.pipe(v.string(), v.description("the codespace state as GitHub reports it (Available, Shutdown, ...)")),
  lastUsedAt: v.nullable(v.string()),
  machine: v.nullable(v.string()),
  webUrl: v.nullable(v.string()),
  gitStatus: GitStatusView,
});

export const LeaseView = v.strictObject({
  leaseId: v.pipe(v.string(), v.regex(/^cbx_[a-z2-7]{12}$/)),
  slug: v.string(),
  provider: v.literal("github-codespaces"),
  state: v.picklist(["pending", "ready", "releasing", "released", "failed"]),
  repo: v.string(),
  ref: v.string(),
  machine: v.string(),
  keep: v.boolean(),
  deleteOnRelease: v.boolean(),
  createdAt: isoTime,
  expiresAt: isoTime,
  workRoot: v.string(),
  codespace: v.nullable(v.strictObject({ name: v.string(), id: v.number(), environmentId: v.nullable(v.string()), owner: v.string() })),
  live: v.pipe(v.nullable(LiveView), v.description("null when GitHub no longer has the codespace, or none is bound")),
  ssh: v.nullable(v.strictObject({ configPath: v.string(), host: v.string() })),
  lastSync: v.nullable(v.strictObject({ fingerprint: v.string(), at: isoTime })),
  failure: v.nullable(v.string()),
});

export const LeaseList = v.array(LeaseView);

export const WarmupResult = v.strictObject({ ...LeaseView.entries, elapsedMs: ms });

export const SyncSummary = v.strictObject({
  skipped: v.boolean(),
  files: v.number(),
  bytes: v.number(),
  sentBytes: v.nullable(v.number()),
  ms,
});

export const RunSummary = v.strictObject({
  leaseId: v.nullable(v.string()),
  slug: v.nullable(v.string()),
  exitCode: v.pipe(v.number(), v.description("the remote command's status (128+n if killed by signal n), or crabbox-cs's own exit code")),
  sync: v.nullable(SyncSummary),
  durations: v.strictObject({ acquire: ms, sync: ms, command: ms, release: ms }),
});

export const SshLine = v.strictObject({
  leaseId: v.string(),
  configPath: v.nullable(v.string()),
  host: v.nullable(v.string()),
  command: v.string(),
});

export const ReleaseAction = v.picklist(["deleted", "stopped", "kept-dirty", "forgotten", "would-delete", "would-stop"]);

export const ReleaseOutcome = v.strictObject({
  leaseId: v.string(),
  slug: v.string(),
  codespace: v.nullable(v.string()),
  action: ReleaseAction,
  reason: v.string(),
});

export const ErrorSummary = v.strictObject({ code: v.string(), message: v.string(), exitCode: v.number() });

export const CleanupDecision = v.strictObject({
  leaseId: v.nullable(v.string()),
  slug: v.nullable(v.string()),
  codespace: v.nullable(v.string()),
  action: v.picklist(["deleted", "stopped", "kept-dirty", "forgotten", "would-delete", "would-stop", "skip", "candidate", "error"]),
  reason: v.string(),
  error: v.optional(ErrorSummary),
});

export const CleanupResult = v.strictObject({
  dryRun: v.boolean(),
  decisions: v.array(CleanupDecision),
  corrupt: v.array(v.strictObject({ path: v.string(), error: v.string() })),
  /** Local files of leases that no claim holds: removed (with dryRun: would be). */
  leftovers: v.array(v.strictObject({ leaseId: v.string(), paths: v.array(v.string()) })),
});

export const DoctorCheck = v.strictObject({
  check: v.picklist(["config", "tools", "rsync", "remote-rsync", "gh", "auth", "repository", "codespaces", "machines", "permissions", "claims"]),
  ok: v.boolean(),
  detail: v.string(),
  hint: v.nullable(v.string()),
  code: v.nullable(v.string()),
});

export const DoctorReport = v.array(DoctorCheck);

export const ErrorDocument = v.strictObject({
  error: v.strictObject({
    code: v.string(),
    message: v.string(),
    why: v.optional(v.string()),
    hint: v.optional(v.string()),
    exitCode: v.number(),
    details: v.optional(v.record(v.string(), v.unknown())),
  }),
});

/** Name → schema, for generation and for tests. */
export const OUTPUT_SCHEMAS = {
  "lease-view": LeaseView,
  "lease-list": LeaseList,
  "warmup-result": WarmupResult,
  "run-summary": RunSummary,
  "ssh-line": SshLine,
  "release-outcome": ReleaseOutcome,
  "cleanup-result": CleanupResult,
  "doctor-report": DoctorReport,
  "error-document": ErrorDocument,
} as const;
