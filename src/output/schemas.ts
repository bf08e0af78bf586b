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

export const FailedCase = v.strictObject({
  suite: v.string(),
  name: v.string(),
  kind: v.picklist(["failure", "error"]),
  message: v.pipe(v.string(), v.description("the first line of the failure's message, or \"\"")),
  shard: v.optional(v.pipe(v.number(), v.description("shard: the 1-based index of the shard the case failed in"))),
});

export const TestResults = v.strictObject({
  tests: v.number(),
  failures: v.number(),
  errors: v.number(),
  skipped: v.number(),
  time: v.pipe(v.number(), v.description("seconds, as the JUnit files say")),
  failed: v.array(FailedCase),
  files: v.array(v.strictObject({ path: v.string(), ok: v.boolean(), warning: v.nullable(v.string()) })),
});

export const DownloadEntry = v.strictObject({
  path: v.string(),
  dest: v.pipe(v.string(), v.description("the local path it was copied to")),
  exitCode: v.pipe(v.number(), v.description("0 when copied; rsync's status otherwise (23: not found on the lease)")),
  error: v.nullable(v.string()),
});

const durations = v.strictObject({ acquire: ms, sync: ms, command: ms, release: ms });

export const RunSummary = v.strictObject({
  leaseId: v.nullable(v.string()),
  slug: v.nullable(v.string()),
  exitCode: v.pipe(v.number(), v.description("the remote command's status (128+n if killed by signal n), or crabbox-cs's own exit code")),
  sync: v.nullable(SyncSummary),
  durations,
  results: v.pipe(v.nullable(TestResults), v.description("null without --junit / --results-auto")),
  downloads: v.array(DownloadEntry),
  pool: v.optional(
    v.pipe(
      v.strictObject({
        borrowed: v.pipe(v.boolean(), v.description("true: a ready pool lease was borrowed; false: no lease was ready, a fresh one-shot lease was used")),
        outcome: v.pipe(v.nullable(v.picklist(["returned", "drained", "gone"])), v.description("what became of the borrowed lease; null when none was borrowed")),
        reason: v.nullable(v.string()),
      }),
      v.description("present with run --pool (or pool.enabled)"),
    ),
  ),
});

export const CopyResult = v.strictObject({
  leaseId: v.string(),
  direction: v.picklist(["up", "down"]),
  source: v.pipe(v.string(), v.description("SRC as given (the remote path without SANDBOX:)")),
  dest: v.pipe(v.string(), v.description("where the copy is: the remote path rsync wrote to (up), or the local path (down)")),
  entries: v.pipe(v.number(), v.description("up: the files, directories and links sent; down: 1 (the source, recursively)")),
  held: v.pipe(v.array(v.string()), v.description("up: secret paths not sent (relative to SRC)")),
});

export const ShardOutcome = v.strictObject({
  index: v.pipe(v.number(), v.description("1-based")),
  leaseId: v.pipe(v.nullable(v.string()), v.description("null when the shard never got a lease")),
  slug: v.nullable(v.string()),
  pooled: v.pipe(v.boolean(), v.description("the lease was borrowed from the ready pool (and returned to it); false: a fresh one-shot lease")),
  exitCode: v.pipe(v.number(), v.description("the shard's command status (128+n if killed by signal n), or crabbox-cs's own exit code when a step failed (error says which)")),
  cancelled: v.pipe(v.boolean(), v.description("stopped by Ctrl-C or --fail-fast before or while its command ran")),
  error: v.nullable(v.strictObject({ code: v.string(), message: v.string(), exitCode: v.number() })),
  durations,
  sync: v.nullable(SyncSummary),
  results: v.nullable(TestResults),
  downloads: v.array(DownloadEntry),
});

export const ShardSummary = v.strictObject({
  exitCode: v.pipe(v.number(), v.description("0 when every shard exited 0; else the lowest-numbered failing shard's exitCode; 128+n after Ctrl-C/SIGTERM")),
  count: v.number(),
  failedShard: v.pipe(v.nullable(v.number()), v.description("the shard whose status is exitCode, or null")),
  shards: v.array(ShardOutcome),
  results: v.pipe(v.nullable(TestResults), v.description("every shard's results merged; each failed case names its shard")),
  durations: v.strictObject({ total: ms }),
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

export const PoolLeaseView = v.strictObject({
  leaseId: v.string(),
  slug: v.string(),
  key: v.pipe(v.string(), v.description("the pool key: repository, then @ref, machine= and devcontainer= when configured (e.g. octo/app@dev machine=premiumLinux)")),
  state: v.picklist(["ready", "busy", "draining"]),
  uses: v.number(),
  ageMs: ms,
  createdAt: isoTime,
  borrowedAt: v.nullable(isoTime),
  returnedAt: v.nullable(isoTime),
  drainReason: v.nullable(v.string()),
  users: v.pipe(v.array(v.strictObject({ pid: v.number(), host: v.string() })), v.description("live processes using it (the borrower of a busy lease)")),
  codespace: v.nullable(v.string()),
  codespaceState: v.pipe(v.nullable(v.string()), v.description("as GitHub reports it now; null when GitHub no longer has it")),
});

export const PoolList = v.array(PoolLeaseView);

export const PrewarmResult = v.strictObject({
  leases: v.array(
    v.strictObject({
      leaseId: v.nullable(v.string()),
      slug: v.nullable(v.string()),
      codespace: v.nullable(v.string()),
      state: v.pipe(v.picklist(["ready", "failed"]), v.description("ready: in the pool; failed: not added (released, or never created)")),
      stopped: v.boolean(),
      hydrateExitCode: v.nullable(v.number()),
      error: v.optional(ErrorSummary),
    }),
  ),
  elapsedMs: ms,
});

export const PoolDrainResult = v.strictObject({
  dryRun: v.boolean(),
  decisions: v.array(
    v.strictObject({
      leaseId: v.string(),
      slug: v.string(),
      codespace: v.nullable(v.string()),
      action: v.picklist(["deleted", "stopped", "kept-dirty", "forgotten", "would-delete", "would-stop", "skip", "error"]),
      reason: v.string(),
      error: v.optional(ErrorSummary),
    }),
  ),
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
  "shard-summary": ShardSummary,
  "ssh-line": SshLine,
  "cp-result": CopyResult,
  "release-outcome": ReleaseOutcome,
  "cleanup-result": CleanupResult,
  "doctor-report": DoctorReport,
  "pool-list": PoolList,
  "prewarm-result": PrewarmResult,
  "pool-drain-result": PoolDrainResult,
  "error-document": ErrorDocument,
} as const;
