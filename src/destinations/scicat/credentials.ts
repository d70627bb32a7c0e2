import fs from "node:fs";
import { registerSecret } from "../../ops/logger.js";

/**
 * A secret given in the configuration or in a file (`passwordFile`, `tokenFile`). A file is read again when it
 * changes on disk, so a rotated token or password takes effect without a restart. The file is looked at (one
 * `stat`) at most every `recheckMs`, or at once when a caller has reason to think it changed.
 */
export class RotatingSecret {
  private value: string | undefined;
  private stamp: string | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    initial: string | undefined,
    private readonly file: string | undefined,
    private readonly now: () => number = Date.now,
    private readonly recheckMs = 2000,
  ) {
    this.value = initial;
  }

  get fromFile(): boolean {
    return this.file !== undefined;
  }

  /** The current value; `fresh` looks at the file now. */
  get(fresh = false): string | undefined {
    if (this.file === undefined) return this.value;
    const t = this.now();
    if (!fresh && t - this.checkedAt < this.recheckMs) return this.value;
    this.checkedAt = t;
    try {
      const stat = fs.statSync(this.file);
      const stamp = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      if (stamp !== this.stamp) {
        const text = fs.readFileSync(this.file, "utf8").replace(/\r?\n$/, "");
        registerSecret(text);
        this.value = text;
        this.stamp = stamp;
      }
    } catch {
      // A file being replaced can be missing for a moment: keep the last value read.
    }
    return this.value;
  }
}

/** Seconds since the epoch at which a JWT expires (its `exp` claim), if it says. */
export function jwtExpiry(jwt: string): number | undefined {
  const claims = decodeJwtClaims(jwt);
  return typeof claims?.exp === "number" ? claims.exp : undefined;
}

export function decodeJwtClaims(jwt: string): Record<string, unknown> | undefined {
  const part = jwt.split(".")[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    return claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
