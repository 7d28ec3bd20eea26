/**
 * The V8 flags every drove process runs with: the `drove` binary's shebang carries them (src/main.ts), `npm start`
 * passes them to `drove dev` (scripts/bootstrap.mjs), and bench:scale starts its controller and hollow executors
 * with them. A test keeps the shebang equal to this list.
 *
 * `--max-semi-space-size=64` (MiB; V8's default tops out at 16): a leader serving thousands of executors makes
 * garbage at a high rate (every message is parsed, validated and answered), and a young generation that small
 * collects every few milliseconds and promotes whatever is in flight at that moment (a message waiting for the
 * store, a reply being written) to the old generation, where only a full collection frees it. At 5,000 executors
 * it halved the leader's garbage-collection time (docs/scale.md#young-generation). It is a ceiling: the young
 * generation grows towards it only under such a load, so a quiet executor or a CLI call is not bigger for it.
 */
export const NODE_FLAGS = ['--max-semi-space-size=64'] as const;
