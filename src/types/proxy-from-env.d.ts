// proxy-from-env ships no types; this is the one function beamsync uses.
declare module "proxy-from-env" {
  /** The proxy URL that HTTP_PROXY / HTTPS_PROXY / NO_PROXY name for `url`, or "" for none. */
  export function getProxyForUrl(url: string | URL): string;
}
