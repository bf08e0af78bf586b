/**
 * The suite's per-test timeout is really applied: Bun's default is 5 s, and
 * bunfig.toml's `[test] timeout` is silently ignored by the Bun we use. This
 * test takes a little over 5 s, so it fails unless `bun test` got `--timeout`
 * (package.json's "test" script). It asserts nothing about speed.
 */
import { expect, test } from "bun:test";

test("a test may take longer than Bun's default 5 s", async () => {
  const t0 = performance.now();
  await Bun.sleep(5_200);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(5_200);
});
