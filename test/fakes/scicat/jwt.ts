import { createHmac, randomBytes } from "node:crypto";

/** HS256 JWTs like the backend's (scicat-api.md §2): the user document minus password, with iat and exp. */
export class TokenIssuer {
  private readonly secret = randomBytes(32);
  /** Tokens still honoured; `expireAll` empties it, so every earlier token becomes anonymous. */
  private readonly live = new Set<string>();

  issue(claims: Record<string, unknown>, ttlSeconds: number): { token: string; iat: number; exp: number } {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + ttlSeconds;
    const header = b64({ alg: "HS256", typ: "JWT" });
    const payload = b64({ ...claims, iat, exp, nonce: randomBytes(6).toString("hex") });
    const signature = createHmac("sha256", this.secret).update(`${header}.${payload}`).digest("base64url");
    const token = `${header}.${payload}.${signature}`;
    this.live.add(token);
    return { token, iat, exp };
  }

  /** The claims of a valid, unexpired, not revoked token; undefined otherwise (the request is anonymous). */
  verify(token: string): Record<string, unknown> | undefined {
    if (!this.live.has(token)) return undefined;
    const [header, payload, signature] = token.split(".");
    if (!header || !payload || !signature) return undefined;
    const expected = createHmac("sha256", this.secret).update(`${header}.${payload}`).digest("base64url");
    if (expected !== signature) return undefined;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) return undefined;
    return claims;
  }

  expireAll(): void {
    this.live.clear();
  }
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
