import { httpError, ScicatHttpError } from "./errors.js";
import type { ScicatAuth } from "./auth.js";
import type { ScicatHttp, ScicatRequest, ScicatResponse } from "./http.js";

/**
 * Authenticated SciCat calls. An expired token is not a 401 in SciCat: the request runs as anonymous and a
 * write answers 403 (scicat-api.md §2.1). So on any 403 we log in again once and repeat the request once;
 * a second 403 is a real permission problem.
 */
export class ScicatClient {
  constructor(
    readonly http: ScicatHttp,
    private readonly auth: ScicatAuth,
  ) {}

  /**
   * Send with the token. Statuses in `accept` are returned; any other non-2xx is thrown as ScicatHttpError
   * (classified by the caller, which knows what it was doing).
   */
  async call(request: ScicatRequest, operation: string, accept: number[] = []): Promise<ScicatResponse> {
    let token = await this.auth.token();
    let response = await this.http.send(withToken(request, token));
    if (response.status === 403 && this.auth.canRelogin) {
      token = await this.auth.renew(token);
      response = await this.http.send(withToken(request, token));
    }
    if ((response.status >= 200 && response.status < 300) || accept.includes(response.status)) return response;
    throw httpError(response, operation);
  }

  /** GET one record by id: the document, or undefined on 404. */
  async getOne(path: string, operation: string): Promise<Record<string, unknown> | undefined> {
    const response = await this.call({ method: "GET", path }, operation, [404]);
    if (response.status === 404) return undefined;
    if (response.data === null || typeof response.data !== "object" || Array.isArray(response.data)) {
      throw new ScicatHttpError(response.status, "answer is not a JSON object", operation);
    }
    return response.data as Record<string, unknown>;
  }
}

function withToken(request: ScicatRequest, token: string): ScicatRequest {
  return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
}
