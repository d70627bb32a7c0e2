import { createHmac, randomBytes } from "node:crypto";

/**
 * HS256 JWTs like the backend's (scicat-api.md §2): the user document minus password, with iat and exp, and no
 * other claim (auth/01 jwtShapes). Each token is signed with a key of its own, so two tokens issued to one user in
 * the same second still differ, and `expireAll` can retire every earlier one.
 */
export class TokenIssuer {
  /** Tokens still honoured, with the key each was signed with. */
  private readonly live = new Map<string, Buffer>();

  issue(claims: Record<string, unknown>, ttlSeconds: number): { token: string; iat: number; exp: number } {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + ttlSeconds;
    const key = randomBytes(32);
    const header = b64({ alg: "HS256", typ: "JWT" });
    const payload = b64({ ...claims, iat, exp });
    const token = `${header}.${payload}.${sign(key, header, payload)}`;
    this.live.set(token, key);
    return { token, iat, exp };
  }

  /** The claims of a valid, unexpired, not retired token; undefined otherwise (the request is anonymous). */
  verify(token: string): Record<string, unknown> | undefined {
    const key = this.live.get(token);
    if (!key) return undefined;
    const [header, payload, signature] = token.split(".");
    if (!header || !payload || !signature || sign(key, header, payload) !== signature) return undefined;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) return undefined;
    return claims;
  }

  expireAll(): void {
    this.live.clear();
  }
}

function sign(key: Buffer, header: string, payload: string): string {
  return createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
