import { createHash } from "node:crypto";

/**
 * A URL-safe id for a natural key, distinct for distinct keys: a resonance sample key
 * (`resonance:<first run uid>#3`) becomes `resonance_<uid>_3`, a bluesky one (`bluesky:<proposal>/<id>`)
 * `bluesky_<proposal>_<id>` when both parts are plain (a registered one, `registration:<proposal>/<specimen>`, likewise
 * `registration_<proposal>_<specimen>`); any other key keeps its letters, digits, `.` and `-` and,
 * when anything else had to go, gets a short hash of the whole key (`~` and the hash). Parts hold no `_`, so
 * no two keys meet. Used for SciCat sampleIds, and by the state migration that moves old sample keys to these.
 */
export function urlSafeId(key: string): string {
  const structured = /^(resonance):([0-9A-Za-z-]+)#(\d+)$/.exec(key) ?? /^(bluesky|registration):([A-Za-z0-9.-]+)\/([A-Za-z0-9.-]+)$/.exec(key);
  if (structured) return `${structured[1]}_${structured[2]}_${structured[3]}`;
  if (/^[A-Za-z0-9.-]+$/.test(key)) return key;
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 8);
  const kept = key.replace(/[^A-Za-z0-9.-]+/g, "_").replace(/^_+|_+$/g, "");
  return `${kept}~${hash}`;
}

/**
 * A beamtime synced before identities stopped depending on paths (state migration 2, src/state/identity-keys.ts):
 * the key the migration gave its records (one of its runs, which the source then keeps as its identity even if an
 * earlier run was never pushed), and, for a DB the index did not list, the researcher and label its proposal id
 * was made from.
 */
export interface IdentityPin {
  researcher?: string | undefined;
  label?: string | undefined;
}
